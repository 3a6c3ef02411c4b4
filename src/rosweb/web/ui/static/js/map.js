// A 2D view of the world frame: grid in metres, the robot's pose and path, the laser points.
// The view fits everything seen so far (it only grows, so it does not jitter) until reset.

import { fmt } from "./util.js";

const COLORS = {
  background: "#0f1318",
  grid: "rgba(255, 255, 255, 0.07)",
  gridMajor: "rgba(255, 255, 255, 0.16)",
  label: "#7d8691",
  scan: "#ff7a59",
  path: "#4dabf7",
  robot: "#20c997",
  heading: "#f8f9fa",
};
const MARGIN = 0.4; // m around what is shown
const ROBOT_RADIUS = 0.18; // m

export class MapView {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {import("./telemetry.js").Telemetry} telemetry
   * @param {HTMLElement} [readout]  where to write the pose as text
   */
  constructor(canvas, telemetry, readout) {
    this.canvas = canvas;
    this.telemetry = telemetry;
    this.readout = readout;
    this.bounds = null; // {x0, y0, x1, y1} in m
    this.visible = false;
    this.draws = 0;
    this._pending = false;
    for (const name of ["odom", "scan"]) telemetry.addEventListener(name, () => this.invalidate());
    new ResizeObserver(() => this.invalidate()).observe(canvas);
  }

  show() {
    this.visible = true;
    this.invalidate();
  }

  hide() {
    this.visible = false;
  }

  resetView() {
    this.bounds = null;
    this.invalidate();
  }

  invalidate() {
    if (!this.visible || this._pending) return;
    this._pending = true;
    requestAnimationFrame(() => {
      this._pending = false;
      this.draw();
    });
  }

  _grow(x, y, pad = 0) {
    const b = this.bounds;
    if (!b) {
      this.bounds = { x0: x - pad, y0: y - pad, x1: x + pad, y1: y + pad };
      return;
    }
    b.x0 = Math.min(b.x0, x - pad);
    b.y0 = Math.min(b.y0, y - pad);
    b.x1 = Math.max(b.x1, x + pad);
    b.y1 = Math.max(b.y1, y + pad);
  }

  draw() {
    const { canvas, telemetry } = this;
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(canvas.clientWidth * dpr));
    const height = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = COLORS.background;
    ctx.fillRect(0, 0, width, height);

    const pose = telemetry.pose;
    const scan = telemetry.scan?.points || [];
    if (pose) this._grow(pose.x, pose.y, 1.0);
    for (const p of scan) this._grow(p[0], p[1]);
    if (!this.bounds) {
      this._label(ctx, dpr, "waiting for odometry…", width / 2, height / 2, "center");
      return;
    }
    // fit the bounds, equal scale on both axes, y up
    const b = this.bounds;
    const spanX = b.x1 - b.x0 + 2 * MARGIN;
    const spanY = b.y1 - b.y0 + 2 * MARGIN;
    const scale = Math.min(width / spanX, height / spanY); // px per m
    const cx = (b.x0 + b.x1) / 2;
    const cy = (b.y0 + b.y1) / 2;
    const X = (x) => width / 2 + (x - cx) * scale;
    const Y = (y) => height / 2 - (y - cy) * scale;

    this._grid(ctx, dpr, scale, X, Y, width, height, cx, cy);

    // laser points
    ctx.fillStyle = COLORS.scan;
    const dot = Math.max(1.5 * dpr, Math.min(3 * dpr, 0.03 * scale));
    for (const [x, y] of scan) ctx.fillRect(X(x) - dot / 2, Y(y) - dot / 2, dot, dot);

    // robot (its footprint), the path over it, its heading on top
    const r = Math.max(ROBOT_RADIUS * scale, 7 * dpr);
    const px = pose ? X(pose.x) : 0;
    const py = pose ? Y(pose.y) : 0;
    if (pose) {
      ctx.fillStyle = COLORS.robot;
      ctx.strokeStyle = COLORS.robot;
      ctx.lineWidth = 2 * dpr;
      ctx.beginPath();
      ctx.arc(px, py, r, 0, 2 * Math.PI);
      ctx.globalAlpha = 0.35;
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.stroke();
    }

    const path = telemetry.path;
    ctx.strokeStyle = COLORS.path;
    ctx.lineWidth = 2 * dpr;
    ctx.lineJoin = "round";
    ctx.beginPath();
    let pen = false;
    for (const point of path) {
      if (!point) {
        pen = false;
        continue;
      }
      if (pen) ctx.lineTo(X(point[0]), Y(point[1]));
      else ctx.moveTo(X(point[0]), Y(point[1]));
      pen = true;
    }
    if (pose && pen) ctx.lineTo(X(pose.x), Y(pose.y));
    ctx.stroke();

    if (pose) {
      ctx.strokeStyle = COLORS.heading;
      ctx.lineWidth = 2.5 * dpr;
      ctx.beginPath();
      ctx.moveTo(px, py);
      ctx.lineTo(px + 1.6 * r * Math.cos(pose.theta), py - 1.6 * r * Math.sin(pose.theta));
      ctx.stroke();
    }

    this.draws += 1;
    const data = canvas.dataset;
    if (pose) {
      data.x = pose.x.toFixed(3);
      data.y = pose.y.toFixed(3);
      data.theta = pose.theta.toFixed(3);
    }
    data.scanPoints = String(scan.length);
    data.pathPoints = String(path.filter(Boolean).length);
    data.draws = String(this.draws);
    if (this.readout && pose) {
      const degrees = (pose.theta * 180) / Math.PI;
      this.readout.textContent = `x ${fmt(pose.x)}  y ${fmt(pose.y)}  θ ${fmt(degrees, 0)}°`;
    }
  }

  _grid(ctx, dpr, scale, X, Y, width, height, cx, cy) {
    // 1 m cells, coarser when they would be smaller than 24 px
    let step = 1;
    while (step * scale < 24 * dpr) step *= 2;
    const x0 = cx - width / 2 / scale;
    const x1 = cx + width / 2 / scale;
    const y0 = cy - height / 2 / scale;
    const y1 = cy + height / 2 / scale;
    ctx.lineWidth = 1;
    for (let x = Math.ceil(x0 / step) * step; x <= x1; x += step) {
      ctx.strokeStyle = Math.round(x) === 0 ? COLORS.gridMajor : COLORS.grid;
      ctx.beginPath();
      ctx.moveTo(Math.round(X(x)) + 0.5, 0);
      ctx.lineTo(Math.round(X(x)) + 0.5, height);
      ctx.stroke();
      this._label(ctx, dpr, `${x}`, X(x) + 3 * dpr, height - 4 * dpr, "left");
    }
    for (let y = Math.ceil(y0 / step) * step; y <= y1; y += step) {
      ctx.strokeStyle = Math.round(y) === 0 ? COLORS.gridMajor : COLORS.grid;
      ctx.beginPath();
      ctx.moveTo(0, Math.round(Y(y)) + 0.5);
      ctx.lineTo(width, Math.round(Y(y)) + 0.5);
      ctx.stroke();
      this._label(ctx, dpr, `${y}`, 3 * dpr, Y(y) - 3 * dpr, "left");
    }
    this._label(ctx, dpr, `grid ${step} m`, width - 6 * dpr, height - 20 * dpr, "right");
  }

  _label(ctx, dpr, text, x, y, align) {
    ctx.fillStyle = COLORS.label;
    ctx.font = `${11 * dpr}px system-ui, sans-serif`;
    ctx.textAlign = align;
    ctx.fillText(text, x, y);
  }
}
