// The Seats panel: capacity, taken, offered, free and the line's length, and a bar of them.

import { h, s } from "./dom.js";
import { count } from "./format.js";
import { panel } from "./panel.js";

const BAR_WIDTH = 600;
const BAR_HEIGHT = 28;

function figure(id, label) {
  return h("div", { class: "figure" }, h("dt", {}, label), h("dd", { id }, "…"));
}

export class SeatsPanel {
  constructor() {
    this.values = {
      capacity: figure("fig-capacity", "Capacity"),
      taken: figure("fig-taken", "Taken"),
      offered: figure("fig-offered", "Offered"),
      free: figure("fig-free", "Free"),
      waiting: figure("fig-waiting", "In line"),
    };
    this.bar = s("svg", {
      class: "seatbar",
      role: "img",
      viewBox: `0 0 ${BAR_WIDTH} ${BAR_HEIGHT}`,
      preserveAspectRatio: "none",
    });
    this.element = panel(
      "seats",
      "Seats",
      h("dl", { class: "figures" }, Object.values(this.values)),
      this.bar,
      h(
        "ul",
        { class: "legend", "aria-hidden": "true" },
        h("li", { class: "key taken" }, "taken"),
        h("li", { class: "key offered" }, "offered"),
        h("li", { class: "key free" }, "free"),
      ),
    );
  }

  /** @param {ReturnType<import("./seats.js").seatFigures>} seats */
  show(seats) {
    const set = (name, text) => {
      this.values[name].querySelector("dd").textContent = text;
    };
    set("capacity", count(seats.capacity));
    set("taken", count(seats.taken));
    set("offered", count(seats.offered));
    set("free", count(seats.free));
    set("waiting", count(seats.waitingParties));
    if (seats.parties && seats.waitingSeats !== null) {
      const unit = h("span", { class: "unit" }, ` (${count(seats.waitingSeats)} seats)`);
      this.values.waiting.querySelector("dd").append(unit);
    }
    this.drawBar(seats);
  }

  drawBar(seats) {
    const total = Math.max(1, seats.capacity);
    let x = 0;
    const parts = [];
    for (const name of ["taken", "offered", "free"]) {
      const width = (Math.max(0, seats[name]) / total) * BAR_WIDTH;
      parts.push(
        s("rect", {
          class: name,
          x: x.toFixed(2),
          y: 0,
          width: width.toFixed(2),
          height: BAR_HEIGHT,
        }),
      );
      x += width;
    }
    this.bar.replaceChildren(...parts);
    this.bar.setAttribute(
      "aria-label",
      `${count(seats.taken)} of ${count(seats.capacity)} seats taken, ` +
        `${count(seats.offered)} offered, ${count(seats.free)} free`,
    );
  }
}
