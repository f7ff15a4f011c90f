// Settling figures from the live feed: tickets settled per second (by message arrival) and
// 202→done latency (completedAt − createdAt, when the messages carry them), in fixed time
// buckets over a sliding window.

import { parseTime } from "./format.js";

export const BUCKET_MS = 5_000;
export const WINDOW_MS = 5 * 60_000;
const RECENT_MS = 10_000;

function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index];
}

/** 202→done latency of a ticket.completed message in ms, or null when it cannot be known. */
export function latencyOf(data) {
  const created = parseTime(data?.createdAt);
  const completed = parseTime(data?.completedAt);
  if (created === null || completed === null || completed < created) return null;
  return completed - created;
}

export class SettleStats {
  constructor({ bucketMs = BUCKET_MS, windowMs = WINDOW_MS } = {}) {
    this.bucketMs = bucketMs;
    this.windowMs = windowMs;
    this.buckets = new Map(); // bucket start (epoch ms) → {count, latencies: number[]}
    this.sawLatency = false;
  }

  /** Count one settled ticket that arrived at `at` (epoch ms). */
  record(data, at = Date.now()) {
    const start = Math.floor(at / this.bucketMs) * this.bucketMs;
    let bucket = this.buckets.get(start);
    if (!bucket) {
      bucket = { count: 0, latencies: [] };
      this.buckets.set(start, bucket);
    }
    bucket.count++;
    const latency = latencyOf(data);
    if (latency !== null) {
      bucket.latencies.push(latency);
      this.sawLatency = true;
    }
    this.prune(at);
  }

  prune(now) {
    const oldest = now - this.windowMs - this.bucketMs;
    for (const start of this.buckets.keys()) {
      if (start < oldest) this.buckets.delete(start);
    }
  }

  /** One point per bucket of the window, oldest first; empty buckets have rate 0 and no
   * latency. The current bucket's rate counts only the time elapsed in it. */
  series(now = Date.now()) {
    this.prune(now);
    const last = Math.floor(now / this.bucketMs) * this.bucketMs;
    const points = [];
    for (let start = last - this.windowMs + this.bucketMs; start <= last; start += this.bucketMs) {
      const bucket = this.buckets.get(start) ?? { count: 0, latencies: [] };
      const elapsed = Math.max(1000, Math.min(this.bucketMs, now - start));
      const sorted = [...bucket.latencies].sort((a, b) => a - b);
      points.push({
        start,
        perSecond: (bucket.count * 1000) / elapsed,
        p50: quantile(sorted, 0.5),
        p95: quantile(sorted, 0.95),
      });
    }
    return points;
  }

  /** The last ten seconds: the figures shown beside the chart. */
  recent(now = Date.now()) {
    let count = 0;
    const latencies = [];
    for (const [start, bucket] of this.buckets) {
      if (start + this.bucketMs <= now - RECENT_MS) continue;
      count += bucket.count;
      latencies.push(...bucket.latencies);
    }
    latencies.sort((a, b) => a - b);
    return {
      perSecond: (count * 1000) / RECENT_MS,
      p50: this.sawLatency ? quantile(latencies, 0.5) : null,
      p95: this.sawLatency ? quantile(latencies, 0.95) : null,
      latencyKnown: this.sawLatency,
    };
  }
}
