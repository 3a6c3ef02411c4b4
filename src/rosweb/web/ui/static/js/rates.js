// Message rates measured in the browser.
//
// Small messages are counted as they arrive. Big ones (images, clouds, maps) are subscribed at
// one per second, and their rate comes from their header: sequence numbers over stamps.

export const HEAVY_TYPES = new Set([
  "sensor_msgs/Image",
  "sensor_msgs/CompressedImage",
  "sensor_msgs/PointCloud2",
  "sensor_msgs/PointCloud",
  "nav_msgs/OccupancyGrid",
]);

function stampSeconds(stamp) {
  return stamp && typeof stamp.secs === "number" ? stamp.secs + (stamp.nsecs || 0) * 1e-9 : undefined;
}

export class RateMeter {
  constructor(windowMs = 5000) {
    this.windowMs = windowMs;
    this.samples = [];
    this.count = 0;
  }

  tick(msg) {
    const header = msg && typeof msg === "object" ? msg.header : undefined;
    this.count += 1;
    this.samples.push({ t: performance.now(), seq: header?.seq, stamp: stampSeconds(header?.stamp) });
    this._prune(performance.now());
  }

  reset() {
    this.samples = [];
    this.count = 0;
  }

  /** Messages per second; 0 when the topic went quiet. */
  get hz() {
    const now = performance.now();
    this._prune(now);
    const n = this.samples.length;
    if (n < 2) return 0;
    const first = this.samples[0];
    const last = this.samples[n - 1];
    const span = (last.t - first.t) / 1000;
    if (span <= 0) return 0;
    const interval = span / (n - 1);
    if ((now - last.t) / 1000 > Math.max(3 * interval, 1.5)) return 0; // stale
    const seqs = last.seq - first.seq;
    const stamps = last.stamp - first.stamp;
    if (seqs > n - 1 && stamps > 0) return seqs / stamps; // throttled: the header knows better
    return (n - 1) / span;
  }

  _prune(now) {
    while (this.samples.length > 2 && now - this.samples[0].t > this.windowMs) this.samples.shift();
  }
}

/** Subscribe to `topic` only to measure its rate; returns the function that unsubscribes. */
export function measure(ros, topic, type, meter) {
  const heavy = HEAVY_TYPES.has(type);
  return ros.subscribe(topic, (msg) => meter.tick(msg), { throttle_rate: heavy ? 1000 : 0 });
}
