// What an attendee (signed in with its provider's token) sees: an event's public view with its
// own standing and commands, and its own places and tickets. Only calls the API grants an
// attendee are made here: no roster, line, ledger, update stream or settings, so no panel
// that would be refused is ever started. With no update stream, the view polls.

import { ApiError } from "./api.js";
import { fill, h } from "./dom.js";
import { count, duration, parseTime, when } from "./format.js";
import { panel, scrollingTable, tableHead } from "./panel.js";
import { SeatsPanel } from "./seats-panel.js";
import { seatFigures } from "./seats.js";
import { rememberTicket, storedTickets } from "./session.js";

const POLL_MS = 5000;
const TICKET_WAIT_S = 10;
const TICKET_WAITS = 6; // a minute at most; the ticket stays in "My places" after that

const detailOf = (error) => error?.detail ?? String(error);
const link = (eventId, text) => h("a", { href: `#/events/${encodeURIComponent(eventId)}` }, text);

/** A standing as a sentence. Unknown statuses (from a newer API) are shown as they are. */
function describeStanding(standing, now) {
  if (standing === null) return "You are not registered for this event.";
  const seats = standing.seats > 1 ? ` (${count(standing.seats)} seats)` : "";
  switch (standing.status) {
    case "registered":
      return `You have a seat${seats}.`;
    case "waitlisted":
      return `You are waiting in line: position ${count(standing.position)}${seats}.`;
    case "offered": {
      const ends = parseTime(standing.expiresAt);
      const left = ends === null ? "" : `, ${duration(ends - now)} left`;
      return `Seats are offered to you${seats} until ${when(standing.expiresAt)}${left}.`;
    }
    case "applied":
      return `You applied${seats}; the organizer has not decided yet.`;
    case "prequeued":
      return `You are in the pre-queue${seats}; the draw places you when registration opens.`;
    default:
      return `Your standing: ${standing.status}${seats}.`;
  }
}

/** A ticket's result in a few words. */
function describeResult(ticket) {
  const result = ticket.result;
  if (ticket.status === "pending" || !result) return `${ticket.status}…`;
  const position = result.position ? `, position ${count(result.position)}` : "";
  const code = result.code ? ` (${result.code})` : "";
  return `${result.status}${code}${position}`;
}

export class AttendeeEvent {
  /**
   * @param {HTMLElement} main
   * @param {{api: import("./api.js").Api, userId: string, announce: (text: string) => void}} app
   * @param {string} eventId
   */
  constructor(main, app, eventId) {
    this.main = main;
    this.app = app;
    this.api = app.api;
    this.userId = app.userId;
    this.eventId = eventId;
    this.event = null;
    this.standing = undefined; // unknown until read; null: not registered
    this.actionsShape = null; // what the buttons were drawn for
    this.busy = false;
    this.controller = new AbortController();
    this.seats = new SeatsPanel();
    this.timers = [];
  }

  start() {
    this.layout();
    this.refresh();
    this.timers.push(
      setInterval(() => this.refresh(), POLL_MS),
      setInterval(() => this.showStanding(), 1000), // an offer's time left counts down
    );
  }

  stop() {
    this.controller.abort();
    for (const timer of this.timers) clearInterval(timer);
  }

  layout() {
    this.title = h("h1", { id: "board-title", tabindex: "-1" }, this.eventId);
    this.meta = h("p", { class: "meta", id: "board-meta" });
    this.status = h("p", { class: "board-status", id: "board-status", role: "status" });
    this.standingText = h("p", { id: "own-standing", role: "status" }, "Loading…");
    this.actions = h("div", { class: "actions", id: "own-actions" });
    this.result = h("div", { id: "command-result", "aria-live": "polite" });
    fill(
      this.main,
      h("p", { class: "crumb" }, h("a", { href: "#/events" }, "← All events")),
      this.title,
      this.meta,
      this.status,
      h(
        "div",
        { class: "board" },
        h("div", { class: "column" }, this.seats.element),
        h(
          "div",
          { class: "column" },
          panel("own-place", "Your place", this.standingText, this.actions, this.result),
        ),
      ),
    );
  }

  // --- loading ------------------------------------------------------------------------

  async refresh() {
    const { signal } = this.controller;
    try {
      const [event, standing] = await Promise.all([
        this.api.event(this.eventId, signal),
        this.readStanding(signal),
      ]);
      this.showEvent(event);
      this.standing = standing;
      this.showStanding();
      this.showActions();
      this.status.textContent = "";
    } catch (error) {
      if (error?.name === "AbortError") return;
      if (error instanceof ApiError && error.code === "EVENT_NOT_FOUND") {
        this.stop();
        this.status.textContent = "This event does not exist (or was deleted).";
        this.standingText.textContent = "";
        this.actions.replaceChildren();
        return;
      }
      this.status.textContent = `Could not refresh: ${detailOf(error)}`;
    }
  }

  async readStanding(signal) {
    try {
      return await this.api.standing(this.eventId, this.userId, signal);
    } catch (error) {
      if (error instanceof ApiError && error.code === "REGISTRATION_NOT_FOUND") return null;
      throw error;
    }
  }

  // --- rendering ----------------------------------------------------------------------

  showEvent(event) {
    const first = this.event === null;
    this.event = event;
    this.title.textContent = event.title || event.eventId;
    fill(
      this.meta,
      h("code", {}, event.eventId),
      ` · ${event.date} · ${event.location} · organised by ${event.organizer} · status `,
      h("strong", {}, event.status),
      event.waitlistEnabled ? " · waitlist on" : " · waitlist off",
    );
    if (first) document.title = `${event.title} · Tessera console`;
    this.seats.show(seatFigures(event));
  }

  showStanding() {
    if (this.standing === undefined) return;
    this.standingText.textContent = describeStanding(this.standing, Date.now());
    this.standingText.dataset.status = this.standing?.status ?? "none";
  }

  showActions() {
    if (this.busy) return; // the buttons come back when the command's result is in
    const status = this.standing?.status ?? null;
    // Drawn again only when they change: a poll must not take the focus from a button, or
    // the seats being typed.
    const shape = `${status}/${this.event?.maxPartySize}`;
    if (shape === this.actionsShape) return;
    this.actionsShape = shape;
    const button = (id, label, run) =>
      h("button", { type: "button", id, onclick: () => this.command(run) }, label);
    const buttons = [];
    if (status === null) {
      const maxParty = Number.isFinite(this.event?.maxPartySize) ? this.event.maxPartySize : 1;
      const seats = h("input", {
        type: "number",
        id: "party-seats",
        name: "seats",
        min: "1",
        max: String(maxParty),
        value: "1",
      });
      if (maxParty > 1) buttons.push(h("label", { for: "party-seats" }, "Seats "), seats);
      buttons.push(
        button("register", "Register", () => {
          // Sent as typed: the API judges it and its message is shown.
          const body = maxParty > 1 ? { seats: Number(seats.value) } : {};
          return this.api.register(this.eventId, body);
        }),
      );
    } else if (status === "offered") {
      buttons.push(
        button("accept-offer", "Accept the offer", () =>
          this.api.answerOffer(this.eventId, this.userId, "accept"),
        ),
        button("decline-offer", "Decline the offer", () =>
          this.api.answerOffer(this.eventId, this.userId, "decline"),
        ),
      );
    } else {
      const label = status === "applied" ? "Withdraw the application" : "Unregister";
      buttons.push(
        button("unregister", label, () => this.api.unregister(this.eventId, this.userId)),
      );
    }
    this.actions.replaceChildren(...buttons);
  }

  // --- commands -----------------------------------------------------------------------

  /** Send a command, then follow its ticket to the result, which is shown with the ticket. */
  async command(send) {
    if (this.busy) return;
    this.busy = true;
    this.actionsShape = null; // drawn afresh, enabled, once the result is in
    for (const control of this.actions.querySelectorAll("button, input")) control.disabled = true;
    fill(this.result, h("p", {}, "Sending…"));
    try {
      let ticket = await send();
      rememberTicket(ticket.ticketId);
      this.showTicket(ticket);
      for (let i = 0; i < TICKET_WAITS && ticket.status === "pending"; i++) {
        ticket = await this.api.awaitTicket(ticket.ticketId, TICKET_WAIT_S, this.controller.signal);
        this.showTicket(ticket);
      }
      this.app.announce(`Ticket ${describeResult(ticket)}.`);
    } catch (error) {
      if (error?.name === "AbortError") return;
      fill(this.result, h("p", { class: "form-alert", role: "alert" }, detailOf(error)));
    } finally {
      this.busy = false;
    }
    await this.refresh();
  }

  showTicket(ticket) {
    const rows = [
      ["Ticket", ticketLink(ticket.ticketId)],
      ["Type", ticket.type],
      ["Result", h("span", { id: "command-outcome" }, describeResult(ticket))],
      ["Message", ticket.result?.message ?? "—"],
    ];
    fill(
      this.result,
      h(
        "dl",
        { class: "ticket", id: "command-ticket", "data-status": ticket.status },
        rows.map(([label, value]) => h("div", {}, h("dt", {}, label), h("dd", {}, value))),
      ),
    );
  }
}

function ticketLink(ticketId) {
  return h("a", { href: `#/tickets/${encodeURIComponent(ticketId)}` }, h("code", {}, ticketId));
}

/** The attendee's own places across events, and the tickets this tab's commands created. */
export class MyPlaces {
  /** @param {HTMLElement} main @param {{api: import("./api.js").Api, userId: string}} app */
  constructor(main, app) {
    this.main = main;
    this.api = app.api;
    this.userId = app.userId;
    this.controller = new AbortController();
  }

  start() {
    this.places = h("div", { id: "my-places" }, h("p", {}, "Loading…"));
    this.tickets = h("div", { id: "my-tickets" }, h("p", {}, "Loading…"));
    fill(
      this.main,
      h("h1", { tabindex: "-1" }, "My places"),
      this.places,
      h("h2", {}, "Tickets from this tab"),
      this.tickets,
    );
    this.loadPlaces();
    this.loadTickets();
  }

  stop() {
    this.controller.abort();
  }

  async loadPlaces() {
    const { signal } = this.controller;
    try {
      const [seated, waiting, offered] = await Promise.all(
        ["registrations", "waitlists", "offers"].map((kind) =>
          this.api.userPlaces(this.userId, kind, signal),
        ),
      );
      const rows = [
        ...seated.map((p) => [p.eventId, p.title, "seated", p.seats, when(p.registeredAt)]),
        ...waiting.map((p) => [
          p.eventId,
          p.title,
          `waiting, position ${count(p.position)}`,
          p.seats,
          when(p.waitlistedAt),
        ]),
        ...offered.map((p) => [
          p.eventId,
          null,
          `offered until ${when(p.expiresAt)}`,
          p.seats,
          when(p.offeredAt),
        ]),
      ];
      const body = rows.map(([eventId, title, standing, seats, since]) =>
        h(
          "tr",
          {},
          h("td", {}, link(eventId, title || eventId)),
          h("td", {}, standing),
          h("td", { class: "num" }, count(seats)),
          h("td", {}, since),
        ),
      );
      const empty = h("tr", {}, h("td", { colspan: "4" }, "No seat, place in line or offer."));
      fill(
        this.places,
        scrollingTable(
          "My places",
          h(
            "table",
            { id: "places-table" },
            tableHead(["Event", "Standing", "#Seats", "Since"]),
            h("tbody", {}, body.length ? body : empty),
          ),
        ),
      );
    } catch (error) {
      if (error?.name === "AbortError") return;
      const text =
        error instanceof ApiError && error.code === "USER_NOT_FOUND"
          ? `There is no user ${this.userId} here yet: ask the organizer.`
          : `Could not load your places: ${detailOf(error)}`;
      fill(this.places, h("p", { class: "form-alert", role: "alert" }, text));
    }
  }

  async loadTickets() {
    const ids = storedTickets();
    if (!ids.length) {
      fill(this.tickets, h("p", {}, "No command sent from this tab yet."));
      return;
    }
    const { signal } = this.controller;
    const found = await Promise.all(
      ids.map((id) => this.api.ticket(id, signal).catch((error) => ({ ticketId: id, error }))),
    );
    if (signal.aborted) return;
    const rows = found.map((ticket) =>
      h(
        "tr",
        {},
        h("td", {}, ticketLink(ticket.ticketId)),
        ticket.error
          ? h("td", { colspan: "4" }, detailOf(ticket.error))
          : [
              h("td", {}, ticket.type),
              h("td", {}, link(ticket.eventId, ticket.eventId)),
              h("td", {}, describeResult(ticket)),
              h("td", {}, when(ticket.createdAt)),
            ],
      ),
    );
    fill(
      this.tickets,
      scrollingTable(
        "Tickets from this tab",
        h(
          "table",
          { id: "tickets-table" },
          tableHead(["Ticket", "Type", "Event", "Result", "Accepted"]),
          h("tbody", {}, rows),
        ),
      ),
    );
  }
}
