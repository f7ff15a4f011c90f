// Server-Sent Events over fetch(). The browser's EventSource cannot send an Authorization
// header, and the key must never go into a URL, so the stream is read with fetch() and a
// ReadableStream and parsed here, following the WHATWG "event stream interpretation" rules.

/** Parses the text/event-stream format, chunk by chunk (lines may be split anywhere). */
export class EventStreamParser {
  /**
   * @param {{onEvent: (e: {type: string, data: string, id: string}) => void,
   *          onComment?: (text: string) => void, onRetry?: (ms: number) => void}} handlers
   */
  constructor({ onEvent, onComment = () => {}, onRetry = () => {} }) {
    this.onEvent = onEvent;
    this.onComment = onComment;
    this.onRetry = onRetry;
    this.buffer = "";
    this.data = [];
    this.type = "";
    this.lastEventId = "";
    this.started = false;
  }

  /** Feed decoded text; complete lines are interpreted at once. */
  push(text) {
    this.buffer += text;
    if (!this.started && this.buffer.length > 0) {
      this.started = true;
      if (this.buffer.charCodeAt(0) === 0xfeff) this.buffer = this.buffer.slice(1);
    }
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const char = this.buffer[i];
      if (char !== "\n" && char !== "\r") continue;
      // A CR at the very end may be the first half of a CRLF still in flight.
      if (char === "\r" && i === this.buffer.length - 1) break;
      this.line(this.buffer.slice(start, i));
      if (char === "\r" && this.buffer[i + 1] === "\n") i++;
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
  }

  /** The stream ended: a lone CR still ends its line; an event without its blank line is
   * dropped, as the specification says. */
  end() {
    if (this.buffer.endsWith("\r")) this.line(this.buffer.slice(0, -1));
    this.buffer = "";
    this.data = [];
    this.type = "";
  }

  line(line) {
    if (line === "") {
      this.dispatch();
      return;
    }
    if (line.startsWith(":")) {
      this.onComment(line.slice(1).trimStart());
      return;
    }
    const colon = line.indexOf(":");
    const name = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "event") this.type = value;
    else if (name === "data") this.data.push(value);
    else if (name === "id") {
      if (!value.includes("\0")) this.lastEventId = value;
    } else if (name === "retry") {
      if (/^[0-9]+$/.test(value)) this.onRetry(Number(value));
    }
    // any other field is ignored
  }

  dispatch() {
    const data = this.data;
    const type = this.type || "message";
    this.data = [];
    this.type = "";
    if (data.length === 0) return;
    this.onEvent({ type, data: data.join("\n"), id: this.lastEventId });
  }
}

const FATAL = new Set([400, 401, 403, 404, 405, 410, 422]);

/**
 * A reconnecting stream: on a dropped connection, an end of stream or a 5xx/429 it connects
 * again after the server's `retry:` delay (backing off on repeated failures) and sends
 * `Last-Event-ID`, so the server replays what was missed. A 4xx such as 401 or 404 will not
 * get better by retrying: it stops and reports.
 */
export class ReconnectingEventStream {
  /**
   * @param {URL|string} url
   * @param {{headers?: object, onEvent: Function, onState?: Function, fetchImpl?: Function,
   *          retryMs?: number, maxRetryMs?: number, lastEventId?: string}} options
   */
  constructor(url, options) {
    this.url = url;
    this.headers = options.headers ?? {};
    this.onEvent = options.onEvent;
    this.onState = options.onState ?? (() => {});
    this.fetchImpl = options.fetchImpl ?? ((...args) => fetch(...args));
    this.retryMs = options.retryMs ?? 1000;
    this.maxRetryMs = options.maxRetryMs ?? 15000;
    this.lastEventId = options.lastEventId ?? "";
    this.failures = 0;
    this.controller = null;
    this.closed = false;
    this.lastHeard = 0;
  }

  start() {
    this.loop();
    return this;
  }

  close() {
    this.closed = true;
    this.controller?.abort();
    this.onState("closed");
  }

  async loop() {
    while (!this.closed) {
      let wait = this.retryMs;
      let problem = null;
      try {
        const outcome = await this.connectOnce();
        if (outcome.fatal) {
          this.closed = true;
          this.onState("failed", outcome.error);
          return;
        }
        if (outcome.waitMs !== undefined) wait = outcome.waitMs;
        problem = outcome.error ?? null;
      } catch (error) {
        if (this.closed) return;
        this.failures++;
        problem = error;
      }
      if (this.closed) return;
      if (this.failures > 0) {
        wait = Math.min(this.maxRetryMs, wait * 2 ** Math.min(this.failures - 1, 4));
      }
      this.onState("reconnecting", problem);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  async connectOnce() {
    this.controller = new AbortController();
    const headers = { ...this.headers, Accept: "text/event-stream" };
    if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
    this.onState("connecting");
    const response = await this.fetchImpl(this.url, {
      headers,
      signal: this.controller.signal,
      cache: "no-store",
      credentials: "omit",
    });
    if (!response.ok) {
      let problem = null;
      try {
        problem = await response.json();
      } catch {
        problem = null;
      }
      const error = { status: response.status, problem };
      if (FATAL.has(response.status)) return { fatal: true, error };
      this.failures++;
      const retryAfter = Number(response.headers.get("Retry-After"));
      const waitMs = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined;
      return { error, waitMs };
    }
    this.onState("open");
    const parser = new EventStreamParser({
      onEvent: (event) => {
        this.failures = 0;
        this.lastEventId = event.id;
        this.onEvent(event);
      },
      onComment: () => {
        this.lastHeard = Date.now();
      },
      onRetry: (ms) => {
        this.retryMs = ms;
      },
    });
    parser.lastEventId = this.lastEventId; // an event without its own id keeps the last one
    const reader = response.body.getReader();
    const decoder = new TextDecoder("utf-8");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      this.lastHeard = Date.now();
      this.failures = 0;
      parser.push(decoder.decode(value, { stream: true }));
    }
    parser.push(decoder.decode());
    parser.end();
    return {}; // the server ended the stream (it does every few minutes): connect again
  }
}
