// Ticket lookup: what became of one command (a client key or an attendee sees only its own).

import { ApiError } from "./api.js";
import { field, fill, h } from "./dom.js";
import { milliseconds, parseTime, when } from "./format.js";

export class TicketLookup {
  /** @param {HTMLElement} main @param {{api: import("./api.js").Api}} app */
  constructor(main, app, ticketId) {
    this.main = main;
    this.api = app.api;
    this.ticketId = ticketId ?? "";
    this.controller = new AbortController();
  }

  start() {
    const input = h("input", {
      type: "text",
      name: "ticketId",
      autocomplete: "off",
      spellcheck: "false",
    });
    input.value = this.ticketId;
    this.result = h("div", { id: "ticket-result", "aria-live": "polite" });
    fill(
      this.main,
      h("h1", { tabindex: "-1" }, "Ticket lookup"),
      h(
        "form",
        {
          method: "post",
          class: "inline",
          id: "ticket-form",
          onsubmit: (e) => this.submit(e, input.value),
        },
        field({
          id: "ticket-id",
          label: "Ticket id",
          control: input,
          hint: "as returned by the 202 answer",
        }),
        h("button", { type: "submit" }, "Look up"),
      ),
      this.result,
    );
    if (this.ticketId) this.lookUp(this.ticketId);
  }

  stop() {
    this.controller.abort();
  }

  submit(domEvent, raw) {
    domEvent.preventDefault();
    const ticketId = raw.trim();
    if (ticketId) location.hash = `#/tickets/${encodeURIComponent(ticketId)}`;
  }

  async lookUp(ticketId) {
    fill(this.result, h("p", {}, "Looking up…"));
    try {
      this.show(await this.api.ticket(ticketId, this.controller.signal));
    } catch (error) {
      if (error?.name === "AbortError") return;
      const text =
        error instanceof ApiError && error.status === 404
          ? `No ticket ${ticketId} that you may see.`
          : `Could not look it up: ${error.detail ?? error}`;
      fill(this.result, h("p", { class: "form-alert", role: "alert" }, text));
    }
  }

  show(ticket) {
    const result = ticket.result ?? {};
    const created = parseTime(ticket.createdAt);
    const completed = parseTime(ticket.completedAt);
    const rows = [
      ["Ticket", h("code", {}, ticket.ticketId)],
      ["Type", ticket.type],
      ["User", h("code", {}, ticket.userId)],
      ["Event", h("a", { href: `#/events/${encodeURIComponent(ticket.eventId)}` }, ticket.eventId)],
      ["Status", h("strong", {}, ticket.status)],
      ["Result", ticket.result ? [result.status, result.code ? ` (${result.code})` : ""] : "—"],
      ["Message", result.message ?? "—"],
      ["Position", result.position ?? "—"],
      [
        "Promoted",
        result.promotedUserIds?.length
          ? result.promotedUserIds.join(", ")
          : (result.promotedUserId ?? "—"),
      ],
      ["Batch", ticket.batchId ?? "—"],
      ["Accepted", when(ticket.createdAt)],
      ["Completed", when(ticket.completedAt)],
      [
        "202→done",
        created !== null && completed !== null ? milliseconds(completed - created) : "n/a",
      ],
    ];
    fill(
      this.result,
      h(
        "dl",
        { class: "ticket", id: "ticket-details" },
        rows.map(([label, value]) => h("div", {}, h("dt", {}, label), h("dd", {}, value))),
      ),
    );
  }
}
