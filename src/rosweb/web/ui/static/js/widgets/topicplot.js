// A live plot of numeric fields of one topic over the last 30 s (uPlot, vendored as window.uPlot),
// for the plot macro (the dashboard's own Plot tab is the richer ../plot.js).

import { getPath } from "../util.js";

const WINDOW_S = 30; // seconds shown
const MAX_POINTS = 3000;
const PALETTE = ["#4dabf7", "#ff922b", "#51cf66", "#f06595", "#fcc419", "#9775fa"];
const AXIS = { stroke: "#8b949e", grid: { stroke: "rgba(255,255,255,0.07)" }, ticks: { stroke: "rgba(255,255,255,0.15)" } };

export class TopicPlot {
  constructor(container) {
    this.container = container;
    this.paths = [];
    this.data = [[]];
    this.chart = null;
    this._pending = false;
    this._resize = new ResizeObserver(() => this._fit());
    this._resize.observe(container);
  }

  get points() {
    return this.data[0].length;
  }

  has(path) {
    return this.paths.includes(path);
  }

  add(path) {
    if (this.has(path)) return;
    this.paths.push(path);
    this.data.push(this.data[0].map(() => null));
    this._build();
  }

  clear() {
    this.paths = [];
    this.data = [[]];
    this.chart?.destroy();
    this.chart = null;
    this.container.hidden = true;
    this.container.dataset.points = "0";
  }

  /** Add a message's values at `time` (s since the epoch). */
  push(msg, time = Date.now() / 1000) {
    if (!this.paths.length) return;
    this.data[0].push(time);
    this.paths.forEach((path, i) => {
      const value = getPath(msg, path);
      this.data[i + 1].push(typeof value === "boolean" ? Number(value) : typeof value === "number" ? value : null);
    });
    const cutoff = time - WINDOW_S;
    let drop = 0;
    while (drop < this.data[0].length && (this.data[0][drop] < cutoff || this.data[0].length - drop > MAX_POINTS)) drop += 1;
    if (drop) for (const series of this.data) series.splice(0, drop);
    this.container.dataset.points = String(this.points);
    if (!this._pending) {
      this._pending = true;
      requestAnimationFrame(() => {
        this._pending = false;
        this.chart?.setData(this.data);
      });
    }
  }

  _size() {
    const width = Math.max(200, this.container.clientWidth);
    return { width, height: Math.round(Math.min(320, Math.max(180, width * 0.4))) };
  }

  _fit() {
    if (this.chart && this.container.clientWidth) this.chart.setSize(this._size());
  }

  _build() {
    this.chart?.destroy();
    this.container.hidden = false;
    const uPlot = window.uPlot;
    const series = [
      {},
      ...this.paths.map((path, i) => ({
        label: path,
        stroke: PALETTE[i % PALETTE.length],
        width: 1.5,
        spanGaps: true,
        points: { show: false },
      })),
    ];
    this.chart = new uPlot(
      {
        ...this._size(),
        series,
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true } },
        axes: [AXIS, { ...AXIS, size: 60 }],
        legend: { live: true },
      },
      this.data,
      this.container,
    );
  }
}
