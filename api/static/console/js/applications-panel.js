// The Applications panel (admin keys, `admission: "approval"`): pending applications in
// acceptance order, each with Approve and Reject, and the results of the decisions made here.
// A decision is a command like any other: its ticket is followed to its result, and the
// applicant's place in the line is the worker's to decide, never this page's.

import { ApiError } from "./api.js";
import { h } from "./dom.js";
import { count, when } from "./format.js";
import { panel, scrollingTable, tableHead, userCell } from "./panel.js";
import { throttled } from "./throttle.js";

export const APPLICATION_ROWS = 50;
const REFRESH_MS = 500; // an approval storm settles hundreds a second: a handful of reads
const DECISIONS_SHOWN = 8;
const TICKET_WAIT_S = 10;
const TICKET_WAITS = 6; // a minute at most; the ticket can still be looked up after that
const LABELS = { approve: "Approve", reject: "Reject" };

/** A fresh Idempotency-Key: a retried request (a lost answer) can never decide twice.
 * getRandomValues, unlike randomUUID, works outside a secure context too. */
function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `console-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** A decision's ticket as a phrase: "registered", "waitlisted, position 3", "denied (…)". */
export function describeDecision(ticket) {
  const result = ticket?.result;
  if (!result) return ticket?.status === "failed" ? "failed" : "pending…";
  const position = result.position ? `, position ${count(result.position)}` : "";
  const code = result.code ? ` (${result.code})` : "";
  return `${result.status}${code}${position}`;
}

/** Does this event take applications, or still hold some (admission turned back to open)? */
export function takesApplications(event) {
  const pending = Number.isFinite(event?.applicationCount) ? event.applicationCount : 0;
  return event?.admission === "approval" || pending > 0;
}

export class ApplicationsPanel {
  /**
   * @param {{api: import("./api.js").Api, eventId: string, names: import("./names.js").Names,
   *          announce: (text: string) => void, onDecided: () => void}} options
   */
  constructor({ api, eventId, names, announce, onDecided }) {
    this.api = api;
    this.eventId = eventId;
    this.names = names;
    this.announce = announce;
    this.onDecided = onDecided;
    this.controller = new AbortController();
    this.applications = null; // not read yet
    this.drawn = null; // what the rows show, to redraw them only when it changes
    this.drawnDecisions = null;
    this.parties = false;
    this.deciding = new Map(); // userId → the decision in flight
    this.decisions = []; // newest first: {userId, decision, ticket, error}
    this.summary = h("p", { id: "applications-summary" }, "Loading…");
    this.table = h("table", { id: "applications-table" });
    // Not a live region: each result is announced once, through the page's announcer.
    this.results = h("ol", { id: "decisions", class: "decisions" });
    this.element = panel(
      "applications",
      "Applications",
      this.summary,
      scrollingTable("Pending applications", this.table),
      h("h3", { id: "decisions-title", hidden: true }, "Decisions made here"),
      this.results,
    );
    this.element.hidden = true;
    this.refresh = throttled(() => this.load(), REFRESH_MS);
  }

  /** The board read the event: show the panel where it matters, and read the applications. */
  showEvent(event) {
    const wanted = takesApplications(event) || this.decisions.length > 0;
    this.element.hidden = !wanted;
    this.parties = Number.isFinite(event?.maxPartySize) && event.maxPartySize > 1;
    if (wanted) this.refresh();
  }

  stop() {
    this.refresh.stop();
    this.controller.abort();
  }

  async load() {
    try {
      const list = await this.api.applications(this.eventId, this.controller.signal);
      this.applications = Array.isArray(list) ? list : [];
      this.names.want(this.applications.slice(0, APPLICATION_ROWS).map((a) => a.userId));
      this.render();
    } catch (error) {
      if (error?.name === "AbortError") return;
      if (error instanceof ApiError && error.status === 404 && error.code !== "EVENT_NOT_FOUND") {
        this.refresh.stop(); // an API from before approval
        this.summary.textContent = "This API takes no applications.";
        this.table.hidden = true;
        return;
      }
      this.summary.textContent = `Could not read the applications: ${error?.detail ?? error}`;
    }
  }

  render() {
    if (this.applications === null) return; // names arrived before the list: "Loading…" stays
    const total = this.applications.length;
    const more = total > APPLICATION_ROWS ? `; the first ${APPLICATION_ROWS} are shown` : "";
    this.summary.textContent =
      total === 0
        ? "No pending applications."
        : `${count(total)} pending, in the order they were accepted${more}. An approved ` +
          "party joins the line at the place its application gives it.";
    this.table.hidden = total === 0;
    const shown = this.applications.slice(0, APPLICATION_ROWS);
    // Rows are rebuilt only when what they show changed: a button replaced under the pointer
    // between press and release would swallow the click.
    const drawn = JSON.stringify([
      this.parties,
      shown.map((a) => [a.userId, a.seats, a.appliedAt, this.names.nameOf(a.userId)]),
      [...this.deciding],
    ]);
    if (drawn !== this.drawn) {
      this.drawn = drawn;
      this.drawRows(shown);
    }
    this.renderDecisions();
  }

  drawRows(shown) {
    const rows = shown.map((application, index) => {
      const { userId } = application;
      const busy = this.deciding.has(userId);
      const button = (decision) =>
        h(
          "button",
          {
            type: "button",
            class: decision === "reject" ? "secondary" : null,
            "data-decision": decision,
            "aria-label": `${LABELS[decision]} ${this.names.nameOf(userId) ?? userId}`,
            disabled: busy,
            onclick: () => this.decide(userId, decision),
          },
          LABELS[decision],
        );
      return h(
        "tr",
        { "data-user-id": userId, "aria-busy": busy ? "true" : null },
        h("td", { class: "num" }, count(index + 1)),
        userCell(userId, this.names),
        this.parties ? h("td", { class: "num" }, count(application.seats ?? 1)) : null,
        h("td", {}, when(application.appliedAt)),
        h(
          "td",
          { class: "decide" },
          busy ? `${this.deciding.get(userId)}…` : [button("approve"), " ", button("reject")],
        ),
      );
    });
    this.table.replaceChildren(
      h("caption", { class: "visually-hidden" }, "Pending applications in acceptance order"),
      tableHead(["#", "User", this.parties ? "#Seats" : null, "Applied", "Decision"]),
      h("tbody", {}, rows),
    );
  }

  renderDecisions() {
    const drawn = JSON.stringify(this.decisions);
    if (drawn === this.drawnDecisions) return; // the same: links stay where they were
    this.drawnDecisions = drawn;
    const items = this.decisions.map(({ userId, decision, ticket, error }) =>
      h(
        "li",
        {
          "data-user-id": userId,
          "data-decision": decision,
          "data-ticket-id": ticket?.ticketId ?? null,
          "data-status": error ? "error" : (ticket?.status ?? "sending"),
        },
        h("strong", {}, LABELS[decision]),
        " ",
        h("code", {}, userId),
        ": ",
        h(
          "span",
          { class: "outcome" },
          error ? `not sent: ${error}` : ticket ? describeDecision(ticket) : "sending…",
        ),
        ticket?.ticketId
          ? [" · ", h("a", { href: `#/tickets/${encodeURIComponent(ticket.ticketId)}` }, "ticket")]
          : null,
      ),
    );
    this.results.replaceChildren(...items);
    this.element.querySelector("#decisions-title").hidden = items.length === 0;
  }

  /** Send one decision and follow its ticket. The same Idempotency-Key on a resend after a
   * network failure makes the retry safe: the API answers with the first ticket. */
  async decide(userId, decision) {
    if (this.deciding.has(userId)) return;
    this.deciding.set(userId, decision === "approve" ? "approving" : "rejecting");
    const record = { userId, decision, ticket: null, error: null };
    this.decisions = [record, ...this.decisions].slice(0, DECISIONS_SHOWN);
    this.render();
    const key = idempotencyKey();
    const { signal } = this.controller;
    try {
      let ticket;
      try {
        ticket = await this.api.decide(this.eventId, userId, decision, key);
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 0)) throw error;
        ticket = await this.api.decide(this.eventId, userId, decision, key); // once more
      }
      record.ticket = ticket;
      this.renderDecisions();
      for (let i = 0; i < TICKET_WAITS && ticket.status === "pending"; i++) {
        ticket = await this.api.awaitTicket(ticket.ticketId, TICKET_WAIT_S, signal);
        record.ticket = ticket;
      }
      this.announce(`${LABELS[decision]} ${userId}: ${describeDecision(ticket)}.`);
    } catch (error) {
      if (error?.name === "AbortError") return;
      record.error = error?.detail ?? String(error);
      this.announce(`${LABELS[decision]} ${userId} was not sent: ${record.error}`);
    } finally {
      this.deciding.delete(userId);
    }
    this.render();
    this.refresh();
    this.onDecided();
  }
}
