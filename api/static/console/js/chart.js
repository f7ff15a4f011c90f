// The settling chart, drawn as inline SVG (no library): bars of tickets settled per second on
// the left scale, lines of 202→done latency (median and 95th percentile) on the right scale.

import { s } from "./dom.js";
import { milliseconds, rate } from "./format.js";

// The drawing is as wide as its box (so labels keep their size on a phone), within limits.
const MIN_WIDTH = 300;
const MAX_WIDTH = 900;
const DEFAULT_WIDTH = 640;
const HEIGHT = 220;

/** A round figure at or above `value`, for a scale's top. */
function niceCeiling(value) {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (value <= step * magnitude) return step * magnitude;
  }
  return 10 * magnitude;
}

function linePath(points, x, y, key) {
  let path = "";
  let drawing = false;
  points.forEach((point, index) => {
    const value = point[key];
    if (value === null || value === undefined) {
      drawing = false;
      return;
    }
    path += `${drawing ? "L" : "M"}${x(index).toFixed(1)},${y(value).toFixed(1)}`;
    drawing = true;
  });
  return path;
}

/**
 * Redraw the chart into an <svg> element.
 * @param {SVGSVGElement} svg
 * @param {{start: number, perSecond: number, p50: number|null, p95: number|null}[]} points
 * @param {{windowMinutes: number, latencyKnown: boolean}} options
 */
export function drawChart(svg, points, { windowMinutes, latencyKnown }) {
  const measured = Math.round(svg.getBoundingClientRect().width) || DEFAULT_WIDTH;
  const WIDTH = Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, measured));
  const PLOT = { left: 52, right: WIDTH - 52, top: 14, bottom: HEIGHT - 34 };
  svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
  const plotWidth = PLOT.right - PLOT.left;
  const plotHeight = PLOT.bottom - PLOT.top;
  const slot = plotWidth / Math.max(1, points.length);
  const rateTop = niceCeiling(Math.max(...points.map((p) => p.perSecond), 0));
  const latencyTop = niceCeiling(Math.max(...points.map((p) => p.p95 ?? p.p50 ?? 0), 0));
  const x = (index) => PLOT.left + slot * index + slot / 2;
  const yRate = (value) => PLOT.bottom - (value / rateTop) * plotHeight;
  const yLatency = (value) => PLOT.bottom - (value / latencyTop) * plotHeight;

  const grid = [0, 0.25, 0.5, 0.75, 1].map((fraction) => {
    const y = PLOT.bottom - fraction * plotHeight;
    return s("line", { class: "grid", x1: PLOT.left, x2: PLOT.right, y1: y, y2: y });
  });
  const bars = points.map((point, index) => {
    const top = yRate(point.perSecond);
    return s("rect", {
      class: "bar",
      x: (PLOT.left + slot * index + slot * 0.1).toFixed(1),
      y: top.toFixed(1),
      width: (slot * 0.8).toFixed(1),
      height: Math.max(0, PLOT.bottom - top).toFixed(1),
    });
  });
  const labels = [
    s(
      "text",
      { class: "axis rate", x: PLOT.left - 6, y: PLOT.top + 4, "text-anchor": "end" },
      rate(rateTop),
    ),
    s("text", { class: "axis rate", x: PLOT.left - 6, y: PLOT.bottom, "text-anchor": "end" }, "0"),
    s("text", { class: "axis rate", x: 4, y: PLOT.top + 4 }, "/s"),
    s("text", { class: "axis", x: PLOT.left, y: HEIGHT - 12 }, `−${windowMinutes} min`),
    s("text", { class: "axis", x: PLOT.right, y: HEIGHT - 12, "text-anchor": "end" }, "now"),
  ];
  if (latencyKnown) {
    labels.push(
      s(
        "text",
        { class: "axis latency", x: PLOT.right + 6, y: PLOT.top + 4 },
        milliseconds(latencyTop),
      ),
      s("text", { class: "axis latency", x: PLOT.right + 6, y: PLOT.bottom }, "0"),
    );
  }
  const lines = latencyKnown
    ? [
        s("path", { class: "line p95", d: linePath(points, x, yLatency, "p95") }),
        s("path", { class: "line p50", d: linePath(points, x, yLatency, "p50") }),
      ]
    : [];
  svg.replaceChildren(
    ...grid,
    ...bars,
    ...lines,
    s("line", {
      class: "baseline",
      x1: PLOT.left,
      x2: PLOT.right,
      y1: PLOT.bottom,
      y2: PLOT.bottom,
    }),
    ...labels,
  );
}
