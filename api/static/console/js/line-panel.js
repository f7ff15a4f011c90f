// The line (waiting parties in order) and, where the API has offers, the open offers with
// their countdown.

import { h } from "./dom.js";
import { count, duration, parseTime, when } from "./format.js";
import { panel, scrollingTable, tableHead, userCell } from "./panel.js";

export const LINE_ROWS = 25;
const EXPIRING_MS = 60_000;

export class LinePanel {
  constructor(names) {
    this.names = names;
    this.entries = [];
    this.parties = false;
    this.summary = h("p", { id: "line-summary" }, "Loading…");
    this.table = h("table", { id: "line-table" });
    this.element = panel("line", "The line", this.summary, scrollingTable("The line", this.table));
  }

  /** @param {object[]} entries the API's waitlist @param {boolean} parties show seats */
  show(entries, parties) {
    this.entries = entries;
    this.parties = parties;
    this.render();
  }

  /** The user ids whose names the panel would show. */
  shownUsers() {
    return this.entries.slice(0, LINE_ROWS).map((entry) => entry.userId);
  }

  render(now = Date.now()) {
    const total = this.entries.length;
    const more = total > LINE_ROWS ? `; the first ${LINE_ROWS} are shown` : "";
    this.summary.textContent =
      total === 0 ? "Nobody is waiting." : `${count(total)} waiting${more}.`;
    this.table.hidden = total === 0;
    const rows = this.entries.slice(0, LINE_ROWS).map((entry) => {
      const since = parseTime(entry.waitlistedAt);
      return h(
        "tr",
        {},
        h("td", { class: "num" }, count(entry.position)),
        userCell(entry.userId, this.names),
        this.parties ? h("td", { class: "num" }, count(entry.seats ?? 1)) : null,
        h("td", { title: when(entry.waitlistedAt) }, since === null ? "—" : duration(now - since)),
      );
    });
    this.table.replaceChildren(
      h("caption", { class: "visually-hidden" }, "Waiting parties in line order"),
      tableHead(["#Position", "User", this.parties ? "#Seats" : null, "Waiting for"]),
      h("tbody", {}, rows),
    );
  }
}

export class OffersPanel {
  constructor(names) {
    this.names = names;
    this.offers = [];
    this.body = h("tbody");
    this.element = panel(
      "offers",
      "Open offers",
      scrollingTable(
        "Open offers",
        h(
          "table",
          { id: "offers-table" },
          tableHead(["User", "#Seats", "Offered", "Expires in"]),
          this.body,
        ),
      ),
    );
    this.element.hidden = true;
  }

  /** @param {object[]|null} offers the API's open offers, or null where it has none */
  show(offers) {
    this.element.hidden = offers === null;
    this.offers = offers ?? [];
    this.render();
  }

  shownUsers() {
    return this.offers.map((offer) => offer.userId);
  }

  render(now = Date.now()) {
    const rows = this.offers.map((offer) => {
      const expires = parseTime(offer.expiresAt);
      const left = expires === null ? null : expires - now;
      let countdown = "—";
      if (left !== null) countdown = left <= 0 ? "expiring now" : duration(left);
      return h(
        "tr",
        { class: left !== null && left <= EXPIRING_MS ? "expiring" : null },
        userCell(offer.userId, this.names),
        h("td", { class: "num" }, count(offer.seats ?? 1)),
        h("td", {}, when(offer.offeredAt)),
        h("td", { class: "countdown" }, countdown),
      );
    });
    const none = h("tr", {}, h("td", { colspan: "4" }, "No open offers."));
    this.body.replaceChildren(...(rows.length ? rows : [none]));
  }
}
