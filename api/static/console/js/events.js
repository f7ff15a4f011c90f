// The events list: a status filter, open-by-id, and pages through `nextCursor`.

import { ApiError } from "./api.js";
import { field, fill, h } from "./dom.js";
import { count } from "./format.js";
import { tableHead } from "./panel.js";
import { seatFigures } from "./seats.js";

const PAGE_SIZE = 20;
const ID = /^[A-Za-z0-9_-]{1,64}$/;

export class EventsList {
  /** @param {HTMLElement} main @param {{api: import("./api.js").Api}} app */
  constructor(main, app) {
    this.main = main;
    this.api = app.api;
    this.controller = new AbortController();
    this.status = "";
    this.cursors = [null]; // the cursor of each page seen; the last is the current page
  }

  start() {
    const statusInput = h("input", {
      type: "text",
      name: "status",
      list: "status-choices",
      autocomplete: "off",
    });
    const idInput = h("input", {
      type: "text",
      name: "eventId",
      autocomplete: "off",
      spellcheck: "false",
    });
    this.message = h("p", { class: "form-alert", role: "alert", id: "events-alert", hidden: true });
    this.table = h("table", { id: "events-table" });
    this.pageInfo = h("p", { class: "page-info", id: "page-info", role: "status" });
    this.previous = h(
      "button",
      { type: "button", id: "previous-page", onclick: () => this.go(-1) },
      "Previous page",
    );
    this.next = h(
      "button",
      { type: "button", id: "next-page", onclick: () => this.go(1) },
      "Next page",
    );
    fill(
      this.main,
      h("h1", { tabindex: "-1" }, "Events"),
      h(
        "div",
        { class: "toolbar" },
        h(
          "form",
          {
            method: "post",
            class: "inline",
            id: "filter-form",
            onsubmit: (e) => this.filter(e, statusInput.value),
          },
          field({
            id: "status-filter",
            label: "Status",
            control: statusInput,
            hint: "e.g. active; empty for all",
          }),
          h(
            "datalist",
            { id: "status-choices" },
            h("option", { value: "active" }),
            h("option", { value: "cancelled" }),
          ),
          h("button", { type: "submit" }, "Filter"),
        ),
        h(
          "form",
          {
            method: "post",
            class: "inline",
            id: "open-form",
            onsubmit: (e) => this.open(e, idInput.value),
          },
          field({
            id: "event-search",
            label: "Event id",
            control: idInput,
            hint: "opens that event's board",
          }),
          h("button", { type: "submit" }, "Open"),
        ),
      ),
      this.message,
      h(
        "div",
        { class: "scroll", tabindex: "0", role: "region", "aria-label": "Events" },
        this.table,
      ),
      h("div", { class: "pager" }, this.previous, this.pageInfo, this.next),
    );
    this.load();
  }

  stop() {
    this.controller.abort();
  }

  showMessage(text) {
    this.message.textContent = text ?? "";
    this.message.hidden = !text;
  }

  filter(domEvent, status) {
    domEvent.preventDefault();
    this.status = status.trim();
    this.cursors = [null];
    this.load();
  }

  async open(domEvent, raw) {
    domEvent.preventDefault();
    const eventId = raw.trim();
    if (!ID.test(eventId)) {
      this.showMessage("An event id is 1–64 letters, digits, _ or -.");
      return;
    }
    try {
      await this.api.event(eventId, this.controller.signal);
      location.hash = `#/events/${encodeURIComponent(eventId)}`;
    } catch (error) {
      if (error?.name === "AbortError") return;
      this.showMessage(
        error instanceof ApiError && error.status === 404
          ? `No event ${eventId}.`
          : `Could not look it up: ${error.detail ?? error}`,
      );
    }
  }

  go(step) {
    if (step < 0 && this.cursors.length > 1) this.cursors.pop();
    if (step > 0 && this.nextCursor) this.cursors.push(this.nextCursor);
    this.load();
  }

  async load() {
    this.showMessage(null);
    const cursor = this.cursors[this.cursors.length - 1];
    let page;
    try {
      page = await this.api.listEvents(
        { status: this.status, cursor, limit: PAGE_SIZE },
        this.controller.signal,
      );
    } catch (error) {
      if (error?.name === "AbortError") return;
      this.showMessage(`Could not load events: ${error.detail ?? error}`);
      return;
    }
    this.nextCursor = page.nextCursor;
    this.render(page.items);
  }

  render(events) {
    const head = tableHead(["Event", "Date", "Status", "#Taken", "#Free", "#In line"]);
    const rows = events.map((event) => {
      const seats = seatFigures(event);
      return h(
        "tr",
        {},
        h(
          "td",
          {},
          h(
            "a",
            { href: `#/events/${encodeURIComponent(event.eventId)}` },
            event.title || event.eventId,
          ),
          h("br"),
          h("code", {}, event.eventId),
        ),
        h("td", {}, event.date),
        h("td", {}, event.status),
        h("td", { class: "num" }, `${count(seats.taken)} / ${count(seats.capacity)}`),
        h("td", { class: "num" }, count(seats.free)),
        h("td", { class: "num" }, count(seats.waitingParties)),
      );
    });
    const empty = h(
      "tr",
      {},
      h(
        "td",
        { colspan: "6" },
        this.status ? `No event with status ${this.status}.` : "No events yet.",
      ),
    );
    this.table.replaceChildren(
      h("caption", { class: "visually-hidden" }, "Events"),
      head,
      h("tbody", {}, rows.length ? rows : empty),
    );
    const page = this.cursors.length;
    this.pageInfo.textContent = `Page ${page}${this.status ? ` · status ${this.status}` : ""} · ${events.length} shown`;
    this.previous.disabled = page === 1;
    this.next.disabled = !this.nextCursor;
  }
}
