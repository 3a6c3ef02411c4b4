// Topic rates and bandwidth as the server counts them (GET /api/stats/topics), so the page never
// downloads a topic only to learn how fast it goes (a camera would cost megabytes a second).
// Polled while some view wants them (`want(owner)` / `release(owner)`).

import { api, apiPath, fmt, fmtBytes } from "./util.js";

const POLL_MS = 1500;

/** Types the page never subscribes to unless it shows them (the camera goes by MJPEG). */
export const HEAVY_TYPES = new Set([
  "sensor_msgs/Image",
  "sensor_msgs/CompressedImage",
  "sensor_msgs/PointCloud2",
  "sensor_msgs/PointCloud",
  "nav_msgs/OccupancyGrid",
]);

export class TopicRates extends EventTarget {
  constructor() {
    super();
    this.topics = new Map(); // name -> {rate, bandwidth, subscribed, count, ...} (null: no figure)
    this.updated = 0;
    this._owners = new Set();
    this._timer = null;
  }

  /** `owner` shows rates: poll (now, then every POLL_MS) until every owner released. */
  want(owner) {
    this._owners.add(owner);
    if (!this._timer) this.poll();
  }

  release(owner) {
    this._owners.delete(owner);
    if (!this._owners.size) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  async poll() {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this.poll(), POLL_MS);
    try {
      const { topics } = await api(apiPath("stats/topics"));
      this.topics = new Map(topics.map((t) => [t.name, t]));
      this.updated = performance.now();
      this.dispatchEvent(new CustomEvent("update"));
    } catch {
      /* offline: keep the last figures; the connection badge says so */
    }
  }

  /** Messages per second of `name` (0 when quiet, null when the server does not receive it). */
  hz(name) {
    const row = this.topics.get(name);
    return row ? row.rate : null;
  }

  /** "12 Hz", "–" (quiet), "idle" (nobody receives it: no figure). */
  text(name) {
    const row = this.topics.get(name);
    if (!row) return "–";
    if (row.rate === null) return "idle";
    return formatRate(row.rate);
  }

  /** "230 kB/s", or "" without a figure. */
  bandwidth(name) {
    const row = this.topics.get(name);
    return row && row.bandwidth ? `${fmtBytes(row.bandwidth)}/s` : "";
  }
}

export function formatRate(hz) {
  if (!hz) return "–";
  return hz >= 10 ? `${hz.toFixed(0)} Hz` : `${fmt(hz, 1)} Hz`;
}
