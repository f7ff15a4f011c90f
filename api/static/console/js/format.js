// How numbers, times and durations read on the page.

const integer = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("en", { maximumFractionDigits: 1 });

export const NOT_AVAILABLE = "n/a";

export function count(value) {
  return Number.isFinite(value) ? integer.format(value) : NOT_AVAILABLE;
}

export function rate(value) {
  return Number.isFinite(value) ? decimal.format(value) : NOT_AVAILABLE;
}

export function milliseconds(value) {
  if (!Number.isFinite(value)) return NOT_AVAILABLE;
  return value >= 10_000 ? `${decimal.format(value / 1000)} s` : `${integer.format(value)} ms`;
}

/** "12 s", "4 min 05 s", "2 h 03 min": how long ago or how long left. */
export function duration(ms) {
  if (!Number.isFinite(ms)) return NOT_AVAILABLE;
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, "0")} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${String(minutes % 60).padStart(2, "0")} min`;
  return `${Math.floor(hours / 24)} d`;
}

export function parseTime(value) {
  const parsed = typeof value === "string" ? Date.parse(value) : Number.NaN;
  return Number.isFinite(parsed) ? parsed : null;
}

/** A wall-clock time for a feed line, 24-hour, in the operator's zone. */
export function clock(epochMs) {
  return new Date(epochMs).toLocaleTimeString("en-GB", { hour12: false });
}

/** A timestamp from the API as the operator's local date and time. */
export function when(value) {
  const parsed = parseTime(value);
  if (parsed === null) return value ? String(value) : "—";
  return new Date(parsed).toLocaleString("en-GB", { hour12: false });
}
