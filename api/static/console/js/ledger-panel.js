// The Ledger panel: how long the event's ledger is, whether its hash chain holds (checked here,
// in the browser, from entry 1), and its latest entries.

import { h } from "./dom.js";
import { count } from "./format.js";
import { RECENT, summarize } from "./ledger.js";
import { panel, scrollingTable, tableHead } from "./panel.js";

const SHORT_HASH = 12;

const short = (hash) => (typeof hash === "string" ? hash.slice(0, SHORT_HASH) : "—");
const entries = (n) => `${count(n)} ${n === 1 ? "entry" : "entries"}`;

export class LedgerPanel {
  constructor() {
    this.summary = h("p", { id: "ledger-summary" }, "Loading…");
    // Not a live region: it changes with every entry, which would drown a screen reader.
    this.verdict = h("p", { id: "ledger-status", class: "ledger-status" });
    this.table = h("table", { id: "ledger-table" });
    this.element = panel(
      "ledger",
      "Ledger",
      this.summary,
      this.verdict,
      scrollingTable("The ledger's latest entries", this.table),
    );
    this.table.hidden = true;
  }

  /** @param {import("./ledger.js").LedgerFollower} ledger */
  show(ledger) {
    const total = ledger.length;
    if (!ledger.loaded) {
      this.summary.textContent = `Reading the ledger: ${count(total)} entries so far…`;
      return;
    }
    if (total === 0) {
      this.summary.textContent = "No ledger recorded for this event.";
      this.setVerdict(null, "");
      this.table.hidden = true;
      return;
    }
    const shown = Math.min(total, ledger.recent.length);
    this.summary.textContent =
      entries(total) +
      (total > shown ? `; the latest ${shown} are shown, newest first.` : ", newest first.");
    if (ledger.unverifiable) {
      this.setVerdict("unverified", `Chain not checked: ${ledger.unverifiable}.`);
    } else if (ledger.broken) {
      const { index, reason } = ledger.broken;
      this.setVerdict(
        "broken",
        `Chain broken at entry ${index}: ${reason}. ` +
          `The ${entries(ledger.verified)} before it verified.`,
      );
    } else {
      this.setVerdict(
        "verified",
        `Chain verified: ${entries(ledger.verified)}, head ${short(ledger.head)}…`,
      );
    }
    const broken = ledger.broken?.index;
    const rows = ledger.recent
      .slice(0, RECENT)
      .map((entry) =>
        h(
          "tr",
          { class: entry.index === broken ? "broken" : null },
          h("td", { class: "num" }, count(entry.index)),
          h("td", {}, String(entry.kind ?? "")),
          h("td", {}, typeof entry.userId === "string" ? h("code", {}, entry.userId) : "—"),
          h("td", {}, entry.type ?? "—"),
          h("td", { class: "outcome" }, summarize(entry)),
          h("td", { class: "hash" }, h("code", { title: String(entry.hash) }, short(entry.hash))),
        ),
      );
    this.table.replaceChildren(
      h("caption", { class: "visually-hidden" }, "The ledger's latest entries, newest first"),
      tableHead(["#Index", "Kind", "User", "Ticket type", "Outcome", "Hash"]),
      h("tbody", {}, rows),
    );
    this.table.hidden = false;
  }

  setVerdict(state, text) {
    if (this.verdict.textContent === text) return;
    this.verdict.textContent = text;
    if (state) this.verdict.dataset.state = state;
    else delete this.verdict.dataset.state;
  }

  /** The ledger could not be read (an API without one, or a refused call). */
  showProblem(text) {
    this.summary.textContent = text;
    this.setVerdict(null, "");
    this.table.hidden = true;
  }
}
