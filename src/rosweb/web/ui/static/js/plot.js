// The Plot tab: numeric fields of several topics on one time axis (uPlot, vendored, window.uPlot).
// Series record in the background from the page's start, whatever the tab, over a chosen window;
// pause freezes the view (recording goes on), CSV exports what is recorded. The series and the
// window are remembered by the browser (layout).

import { $, getPath, h, layout, toast } from "./util.js";

const WINDOWS = [30, 60, 300, 600]; // s
const RATE_MS = 50; // each topic is sampled at up to 20 Hz
const MAX_POINTS = 12_000; // per series: 10 min at 20 Hz
const REDRAW_MS = 250;
const PALETTE = ["#4dabf7", "#ff922b", "#51cf66", "#f06595", "#fcc419", "#9775fa", "#22b8cf", "#e599f7"];

const key = (s) => `${s.topic} ${s.path}`;

/** y range with room around the data; a flat line sits in the middle of ±1 (or ±10%). */
export function yRange(min, max) {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [-1, 1];
  if (min === max) {
    const pad = Math.abs(min) * 0.1 || 1;
    return [min - pad, max + pad];
  }
  const pad = (max - min) * 0.08;
  return [min - pad, max + pad];
}

export class PlotPanel {
  constructor(ros, root) {
    this.ros = ros;
    this.root = root;
    this.series = []; // {topic, type, path, t: [], v: []}
    this.window = layout.get("plot.window", 60);
    this.paused = false;
    this.visible = false;
    this.chart = null;
    this._subs = new Map(); // topic -> unsubscribe
    this._timer = null;
    this._frozen = null;
    this.container = $("#plot", root);
    const select = $("#plot-window", root);
    select.replaceChildren(...WINDOWS.map((s) => h("option", { value: s, selected: s === this.window }, s < 60 ? `${s} s` : `${s / 60} min`)));
    select.addEventListener("change", () => {
      this.window = Number(select.value);
      layout.set("plot.window", this.window);
      this._trim();
      this._render();
    });
    $("#plot-pause", root).addEventListener("click", () => this.setPaused(!this.paused));
    $("#plot-clear", root).addEventListener("click", () => {
      for (const s of this.series) {
        s.t = [];
        s.v = [];
      }
      this._render();
    });
    $("#plot-csv", root).addEventListener("click", () => this.download());
    new ResizeObserver(() => this._fit()).observe(this.container);
    for (const s of layout.get("plot.series", [])) this.add(s.topic, s.type, s.path, { quiet: true });
  }

  has(topic, path) {
    return this.series.some((s) => s.topic === topic && s.path === path);
  }

  /** Plot `path` of `topic` (recording starts now, whatever the tab). */
  add(topic, type, path, { quiet = false } = {}) {
    if (this.has(topic, path)) return;
    this.series.push({ topic, type, path, t: [], v: [] });
    if (!this._subs.has(topic)) {
      const off = this.ros.subscribe(topic, (msg) => this._onMessage(topic, msg), { type, throttle_rate: RATE_MS });
      this._subs.set(topic, off);
    }
    this._save();
    this._build();
    if (!quiet) toast(`Plotting ${topic} ${path} (Plot tab)`, "success", { key: "plot" });
  }

  remove(topic, path) {
    this.series = this.series.filter((s) => !(s.topic === topic && s.path === path));
    if (!this.series.some((s) => s.topic === topic)) {
      this._subs.get(topic)?.();
      this._subs.delete(topic);
    }
    this._save();
    this._build();
  }

  setPaused(paused) {
    this.paused = paused;
    this._frozen = paused ? this._data() : null;
    const button = $("#plot-pause", this.root);
    button.textContent = paused ? "Resume" : "Pause";
    button.setAttribute("aria-pressed", String(paused));
    this.container.dataset.paused = String(paused);
    this._render();
  }

  show() {
    this.visible = true;
    this._build();
    clearInterval(this._timer);
    this._timer = setInterval(() => this._render(), REDRAW_MS);
  }

  hide() {
    this.visible = false;
    clearInterval(this._timer);
  }

  /** Every recorded point as CSV: time (s since the epoch), then one column per series. */
  csv() {
    const [times, ...columns] = this._data();
    const header = ["time", ...this.series.map(key)].map((c) => `"${c.replaceAll('"', '""')}"`);
    const lines = [header.join(",")];
    for (let i = 0; i < times.length; i += 1) {
      lines.push([times[i].toFixed(3), ...columns.map((c) => (c[i] === null || c[i] === undefined ? "" : c[i]))].join(","));
    }
    return `${lines.join("\n")}\n`;
  }

  download() {
    const blob = new Blob([this.csv()], { type: "text/csv" });
    const link = h("a", { href: URL.createObjectURL(blob), download: `rosweb-plot-${new Date().toISOString().slice(0, 19)}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  _onMessage(topic, msg) {
    const now = Date.now() / 1000;
    for (const s of this.series) {
      if (s.topic !== topic) continue;
      const value = getPath(msg, s.path);
      s.t.push(now);
      s.v.push(typeof value === "boolean" ? Number(value) : typeof value === "number" ? value : null);
      if (s.t.length > MAX_POINTS) {
        s.t.splice(0, s.t.length - MAX_POINTS);
        s.v.splice(0, s.v.length - MAX_POINTS);
      }
    }
    this._trim(now);
  }

  _trim(now = Date.now() / 1000) {
    const cutoff = now - this.window;
    for (const s of this.series) {
      let drop = 0;
      while (drop < s.t.length && s.t[drop] < cutoff) drop += 1;
      if (drop) {
        s.t.splice(0, drop);
        s.v.splice(0, drop);
      }
    }
  }

  /** [times, values of series 1, ...] on one time axis (uPlot.join aligns the topics). */
  _data() {
    if (!this.series.length) return [[]];
    const tables = this.series.map((s) => [s.t, s.v]);
    if (tables.length === 1) return [tables[0][0].slice(), tables[0][1].slice()];
    return window.uPlot.join(tables);
  }

  _save() {
    layout.set("plot.series", this.series.map(({ topic, type, path }) => ({ topic, type, path })));
    this._renderList();
  }

  _renderList() {
    const list = $("#plot-series", this.root);
    list.replaceChildren(
      ...this.series.map((s, i) =>
        h(
          "li",
          { class: "list-group-item d-flex align-items-center gap-2 py-1", dataset: { series: key(s) } },
          h("i", { class: "sw", style: `background:${PALETTE[i % PALETTE.length]}` }),
          h("span", { class: "font-monospace small text-truncate" }, s.topic, " ", h("span", { class: "text-body-secondary" }, s.path)),
          h("button", { type: "button", class: "btn btn-link btn-sm ms-auto py-0", "aria-label": `remove ${key(s)}`, onclick: () => this.remove(s.topic, s.path) }, "remove"),
        ),
      ),
    );
    $("#plot-empty", this.root).hidden = this.series.length > 0;
    this.container.hidden = !this.series.length;
  }

  _size() {
    const width = Math.max(240, this.container.clientWidth);
    return { width, height: Math.round(Math.min(420, Math.max(220, width * 0.45))) };
  }

  _fit() {
    if (this.chart && this.container.clientWidth) this.chart.setSize(this._size());
  }

  _build() {
    this._renderList();
    this.chart?.destroy();
    this.chart = null;
    if (!this.visible || !this.series.length) return;
    const uPlot = window.uPlot;
    const css = getComputedStyle(document.body);
    const text = css.getPropertyValue("--bs-secondary-color").trim() || "#8b949e";
    const line = css.getPropertyValue("--rw-plot-grid").trim() || "rgba(128,128,128,0.15)";
    const axis = { stroke: text, grid: { stroke: line }, ticks: { stroke: line } };
    const seconds = (u, splits) => {
      const end = this.paused ? u.scales.x.max : Date.now() / 1000;
      return splits.map((t) => `${Math.round(t - end)} s`);
    };
    this.chart = new uPlot(
      {
        ...this._size(),
        series: [
          { label: "time", value: (u, t) => (t === null ? "–" : new Date(t * 1000).toLocaleTimeString()) },
          ...this.series.map((s, i) => ({
            label: `${s.topic} ${s.path}`,
            stroke: PALETTE[i % PALETTE.length],
            width: 1.5,
            spanGaps: true,
            points: { show: false },
          })),
        ],
        cursor: { drag: { x: false, y: false } },
        scales: {
          x: { time: false, range: (u, min, max) => this._xRange(min, max) },
          y: { range: (u, min, max) => yRange(min, max) },
        },
        axes: [
          { ...axis, space: 80, values: seconds },
          { ...axis, size: 64 },
        ],
        legend: { live: true },
      },
      this._data(),
      this.container,
    );
    this._render();
  }

  _xRange(min, max) {
    const end = this.paused && this._frozen?.[0]?.length ? this._frozen[0].at(-1) : Date.now() / 1000;
    return [end - this.window, end];
  }

  _render() {
    const data = this.paused && this._frozen ? this._frozen : this._data();
    this.container.dataset.points = String(data[0].length);
    if (!this.chart || !this.visible) return;
    this.chart.setData(data);
  }
}
