// User names for the ids on the board, fetched on demand (a few at a time) and cached for the
// board's life. A name is shown as text like everything else; a missing user is remembered too.

const IN_FLIGHT = 4;
const MAX_QUEUE = 50;

export class Names {
  constructor(api, onChange) {
    this.api = api;
    this.onChange = onChange;
    this.known = new Map(); // userId → name, or null for a user that does not exist
    this.queue = [];
    this.active = 0;
    this.stopped = false;
  }

  nameOf(userId) {
    return this.known.get(userId) ?? null;
  }

  /** Ask for the names of these ids; `onChange` runs when some arrive. */
  want(userIds) {
    for (const userId of userIds) {
      if (this.known.has(userId) || this.queue.includes(userId)) continue;
      if (this.queue.length >= MAX_QUEUE) break;
      this.queue.push(userId);
    }
    this.pump();
  }

  pump() {
    while (!this.stopped && this.active < IN_FLIGHT && this.queue.length > 0) {
      const userId = this.queue.shift();
      this.active++;
      this.api
        .user(userId)
        .then(
          (user) => this.known.set(userId, user?.name ?? null),
          (error) => {
            if (error?.status === 404) this.known.set(userId, null);
          },
        )
        .finally(() => {
          this.active--;
          if (!this.stopped) {
            this.onChange();
            this.pump();
          }
        });
    }
  }

  stop() {
    this.stopped = true;
    this.queue = [];
  }
}
