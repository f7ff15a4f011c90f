// The Draw panel of an `opening: "draw"` event (#24): before the opening, the commitment, a
// countdown and the pre-queue's size; after the draw, the drawn order with each party's key
// and a button that recomputes keys and order here, in the browser.

import { h } from "./dom.js";
import { count, duration, parseTime, when } from "./format.js";
import { verifyDraw } from "./draw.js";
import { panel, scrollingTable, tableHead } from "./panel.js";

const SHOWN = 200; // the first parties drawn; the check covers every one of them

export class DrawPanel {
  constructor() {
    this.event = null;
    this.draw = null; // the ledger's `draw` entry, once read
    this.commitment = h("p", { id: "draw-commitment" });
    this.countdown = h("p", { id: "draw-countdown" });
    this.size = h("p", { id: "draw-prequeue" });
    this.button = h(
      "button",
      { type: "button", id: "draw-verify", onclick: () => this.verify() },
      "Verify the draw",
    );
    this.verdict = h("p", { id: "draw-verdict", class: "ledger-status", role: "status" });
    this.table = h("table", { id: "draw-table" });
    this.element = panel(
      "draw",
      "On-sale draw",
      this.commitment,
      this.countdown,
      this.size,
      this.button,
      this.verdict,
      scrollingTable("The drawn order", this.table),
    );
    this.element.hidden = true;
    this.button.hidden = true;
    this.table.hidden = true;
  }

  /** The event view: shown only for a draw (a drawn one keeps `drawCommitment`). */
  showEvent(event) {
    this.event = event;
    this.element.hidden = !(event?.opening === "draw" || event?.drawCommitment);
    if (this.element.hidden) return;
    this.commitment.replaceChildren(
      "Commitment (SHA-256 of the seed): ",
      h("code", {}, event.drawCommitment ?? "—"),
    );
    this.size.textContent = event.drawnAt
      ? `Drawn at ${when(event.drawnAt)}.`
      : `Pre-queue: ${count(event.prequeuedCount ?? 0)} ` +
        `${event.prequeuedCount === 1 ? "party" : "parties"}.`;
    this.tick();
  }

  /** The ledger's draw entry (the follower keeps the last one it read). */
  showDraw(entry) {
    if (!entry || entry === this.draw) return;
    this.draw = entry;
    const drawn = Array.isArray(entry.outcome?.drawn) ? entry.outcome.drawn : [];
    const rows = drawn.slice(0, SHOWN).map((party, i) =>
      h(
        "tr",
        {},
        h("td", { class: "num" }, count(i + 1)),
        h("td", {}, h("code", {}, String(party.userId))),
        h("td", {}, String(party.status ?? "")),
        h("td", { class: "hash" }, h("code", {}, String(party.key))),
      ),
    );
    const shown = drawn.length > SHOWN ? `, the first ${SHOWN} shown` : "";
    this.table.replaceChildren(
      h("caption", {}, `Drawn order: ${count(drawn.length)} parties${shown}`),
      tableHead(["#Place", "User", "Outcome", "Key"]),
      h("tbody", {}, rows),
    );
    this.table.hidden = false;
    this.button.hidden = false;
  }

  /** Counts down to the next moment of the draw (every second, by the board). */
  tick() {
    const event = this.event;
    if (!event || this.element.hidden) return;
    if (event.drawnAt) {
      this.countdown.textContent = "";
      return;
    }
    const now = Date.now();
    const prequeue = parseTime(event.prequeueOpensAt);
    const opens = parseTime(event.registrationOpensAt);
    if (prequeue !== null && now < prequeue) {
      this.countdown.textContent = `Pre-queue opens in ${duration(prequeue - now)}.`;
    } else if (opens !== null && now < opens) {
      this.countdown.textContent = `Draw in ${duration(opens - now)}.`;
    } else {
      this.countdown.textContent = "Drawing…";
    }
  }

  async verify() {
    if (!this.draw) return;
    this.verdict.textContent = "Checking…";
    const verdict = await verifyDraw(this.draw.outcome, this.event?.drawCommitment);
    if (verdict.ok === null) {
      this.verdict.dataset.state = "unverified";
      this.verdict.textContent = `Not checked: ${verdict.reason}.`;
    } else if (verdict.ok) {
      this.verdict.dataset.state = "verified";
      this.verdict.textContent =
        `Draw verified: the seed matches the commitment, and the keys and order of ` +
        `${count(verdict.parties)} parties follow from it.`;
    } else {
      this.verdict.dataset.state = "broken";
      this.verdict.textContent = `Draw does not verify: ${verdict.reason}.`;
    }
  }
}
