// The Settling panel: tickets settled per second and 202→done latency, now and as a chart over
// the last minutes, plus the state of the live stream.

import { drawChart } from "./chart.js";
import { h, s } from "./dom.js";
import { milliseconds, rate } from "./format.js";
import { panel } from "./panel.js";
import { SettleStats, WINDOW_MS } from "./stats.js";

const STREAM_STATES = {
  connecting: () => "Connecting to the live stream…",
  open: () => "Live: connected to the update stream.",
  reconnecting: () => "Live stream interrupted; reconnecting (missed messages will be replayed)…",
  closed: () => "Live stream closed.",
  failed: (problem) =>
    `Live stream stopped: ${problem?.problem?.detail ?? `HTTP ${problem?.status}`}`,
};

export class SettlingPanel {
  constructor() {
    this.stats = new SettleStats();
    this.readout = {
      rate: h("dd", { id: "settled-rate" }, "0"),
      p50: h("dd", { id: "latency-p50" }, "n/a"),
      p95: h("dd", { id: "latency-p95" }, "n/a"),
    };
    this.chart = s("svg", { class: "chart", id: "settle-chart", role: "img" });
    this.streamState = h("p", { class: "stream-state", id: "stream-state" });
    this.showStream("connecting");
    this.element = panel(
      "settling",
      "Settling",
      h(
        "dl",
        { class: "readout" },
        h("div", {}, h("dt", {}, "Settled / s (last 10 s)"), this.readout.rate),
        h("div", {}, h("dt", {}, "202→done p50"), this.readout.p50),
        h("div", {}, h("dt", {}, "202→done p95"), this.readout.p95),
      ),
      this.chart,
      h(
        "ul",
        { class: "legend", "aria-hidden": "true" },
        h("li", { class: "key bar" }, "settled per second"),
        h("li", { class: "key p50" }, "latency p50"),
        h("li", { class: "key p95" }, "latency p95"),
      ),
      this.streamState,
    );
  }

  /** A ticket.completed message's data, arrived at `at`. */
  settled(data, at) {
    this.stats.record(data, at);
  }

  showStream(state, problem) {
    const text = STREAM_STATES[state]?.(problem);
    if (!text || this.streamState.textContent === text) return;
    this.streamState.textContent = text;
    this.streamState.dataset.state = state;
  }

  tick(now = Date.now()) {
    const recent = this.stats.recent(now);
    this.readout.rate.textContent = rate(recent.perSecond);
    this.readout.p50.textContent = milliseconds(recent.p50);
    this.readout.p95.textContent = milliseconds(recent.p95);
    const windowMinutes = WINDOW_MS / 60_000;
    drawChart(this.chart, this.stats.series(now), {
      windowMinutes,
      latencyKnown: recent.latencyKnown,
    });
    this.chart.setAttribute(
      "aria-label",
      `Tickets settled per second over the last ${windowMinutes} minutes: now ` +
        `${rate(recent.perSecond)} per second; 202 to done latency p50 ${milliseconds(recent.p50)}.`,
    );
  }
}
