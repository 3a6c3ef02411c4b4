// A 2D view of the odometry frame: grid in metres, the occupancy grid (/map) when there is one,
// TF frames, the robot's pose and path, the laser points, and the goal last sent. An operator
// sends a goal pose by click-and-drag (press: where, drag: which way) in goal mode. The view fits
// everything seen so far (it only grows, so it does not jitter) until reset. Data older than a
// few seconds (or with the connection down) is drawn greyed with its age.

import { STALE_S } from "./telemetry.js";
import { fmt, fmtAge } from "./util.js";

const MARGIN = 0.4; // m around what is shown
const ROBOT_RADIUS = 0.18; // m
const AXIS = 0.3; // m: length of a TF frame's axes
const MIN_DRAG = 6; // px: a shorter drag is a click (heading: the robot's current one)

/** The map's colours, from the CSS variables of the theme (light or dark). */
function palette(el) {
  const css = getComputedStyle(el);
  const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  return {
    background: v("--rw-map-bg", "#0f1318"),
    grid: v("--rw-map-grid", "rgba(255,255,255,0.07)"),
    gridMajor: v("--rw-map-grid-major", "rgba(255,255,255,0.16)"),
    label: v("--rw-map-label", "#7d8691"),
    free: v("--rw-map-free", "#1d242c"),
    occupied: v("--rw-map-occupied", "#c9d1d9"),
    scan: "#ff7a59",
    path: "#4dabf7",
    robot: "#20c997",
    heading: v("--rw-map-heading", "#f8f9fa"),
    goal: "#f783ac",
    x: "#ff6b6b",
    y: "#51cf66",
  };
}

function rgb(color) {
  const probe = document.createElement("canvas").getContext("2d");
  probe.fillStyle = color;
  const hex = probe.fillStyle; // #rrggbb, or rgba(...) for colours with alpha
  if (hex.startsWith("#")) return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return (hex.match(/\d+/g) || [0, 0, 0]).slice(0, 3).map(Number);
}

export class MapView {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {import("./telemetry.js").Telemetry} telemetry
   * @param {HTMLElement} [readout]  where to write the pose as text
   * @param {{onGoal?: (goal: {x: number, y: number, theta: number, frame: string}) => void}} options
   */
  constructor(canvas, telemetry, readout, { onGoal } = {}) {
    this.canvas = canvas;
    this.telemetry = telemetry;
    this.readout = readout;
    this.onGoal = onGoal;
    this.bounds = null; // {x0, y0, x1, y1} in m
    this.visible = false;
    this.draws = 0;
    this.goalMode = false;
    this.goal = null; // the last goal sent: {x, y, theta}
    this._drag = null; // {x, y, theta} while dragging a goal
    this._view = null; // the last draw's projection
    this._gridImage = null;
    this._gridVersion = -1;
    this._pending = false;
    for (const name of ["odom", "scan", "tf", "map"]) {
      telemetry.addEventListener(name, () => this.invalidate());
    }
    new ResizeObserver(() => this.invalidate()).observe(canvas);
    this._bindGoal();
  }

  show() {
    if (!this.visible) this.telemetry.wantMap(true);
    this.visible = true;
    this.invalidate();
  }

  hide() {
    if (this.visible) this.telemetry.wantMap(false);
    this.visible = false;
  }

  resetView() {
    this.bounds = null;
    this.invalidate();
  }

  setGoalMode(on) {
    this.goalMode = on;
    this._drag = null;
    this.canvas.classList.toggle("goal-mode", on);
    this.canvas.dataset.goalMode = String(on);
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

  /** The occupancy grid's pose in the view's frame, or null (none, or TF does not link it). */
  _gridPose(frame) {
    const grid = this.telemetry.grid;
    if (!grid) return null;
    const link = grid.frame === frame ? { x: 0, y: 0, theta: 0 } : this.telemetry.lookup(grid.frame, frame);
    if (!link) return null;
    const c = Math.cos(link.theta);
    const s = Math.sin(link.theta);
    const o = grid.origin;
    return { x: link.x + c * o.x - s * o.y, y: link.y + s * o.x + c * o.y, theta: link.theta + o.theta };
  }

  _gridBitmap(colors) {
    const grid = this.telemetry.grid;
    if (this._gridVersion === grid.version && this._gridImage) return this._gridImage;
    const { width, height, data } = grid;
    const image = document.createElement("canvas");
    image.width = width;
    image.height = height;
    const ctx = image.getContext("2d");
    const pixels = ctx.createImageData(width, height);
    const free = rgb(colors.free);
    const occupied = rgb(colors.occupied);
    for (let j = 0; j < height; j += 1) {
      const row = (height - 1 - j) * width; // image rows go down, grid rows go up
      for (let i = 0; i < width; i += 1) {
        const value = data[j * width + i];
        const k = (row + i) * 4;
        if (value < 0 || value > 100) {
          pixels.data[k + 3] = 0; // unknown: the background shows
          continue;
        }
        const t = value / 100;
        for (let c = 0; c < 3; c += 1) pixels.data[k + c] = free[c] + (occupied[c] - free[c]) * t;
        pixels.data[k + 3] = 255;
      }
    }
    ctx.putImageData(pixels, 0, 0);
    this._gridImage = image;
    this._gridVersion = grid.version;
    return image;
  }

  draw() {
    const { canvas, telemetry } = this;
    const colors = palette(canvas);
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(1, Math.round(canvas.clientWidth * dpr));
    const height = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = colors.background;
    ctx.fillRect(0, 0, width, height);

    const pose = telemetry.pose;
    const frame = pose?.frame || "odom";
    const scan = telemetry.scan?.points || [];
    const grid = telemetry.grid;
    const gridPose = this._gridPose(frame);
    if (pose) this._grow(pose.x, pose.y, 1.0);
    for (const p of scan) this._grow(p[0], p[1]);
    if (gridPose) {
      for (const [i, j] of [[0, 0], [grid.width, 0], [0, grid.height], [grid.width, grid.height]]) {
        const lx = i * grid.resolution;
        const ly = j * grid.resolution;
        const c = Math.cos(gridPose.theta);
        const s = Math.sin(gridPose.theta);
        this._grow(gridPose.x + c * lx - s * ly, gridPose.y + s * lx + c * ly);
      }
    }
    if (!this.bounds) {
      this._label(ctx, dpr, colors, "waiting for odometry…", width / 2, height / 2, "center");
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
    this._view = { cx, cy, scale, width, height, dpr, frame };

    if (gridPose) {
      const image = this._gridBitmap(colors);
      const res = grid.resolution;
      const c = Math.cos(gridPose.theta);
      const s = Math.sin(gridPose.theta);
      const H = grid.height;
      ctx.imageSmoothingEnabled = false;
      ctx.setTransform(
        scale * c * res, -scale * s * res, scale * s * res, scale * c * res,
        X(gridPose.x) - scale * s * res * H, Y(gridPose.y) - scale * c * res * H,
      );
      ctx.drawImage(image, 0, 0);
      ctx.setTransform(1, 0, 0, 1, 0, 0);
    }

    this._grid(ctx, dpr, colors, scale, X, Y, width, height, cx, cy);

    const stale = telemetry.stale("odom");
    ctx.globalAlpha = stale ? 0.4 : 1;
    // laser points
    ctx.fillStyle = colors.scan;
    const dot = Math.max(1.5 * dpr, Math.min(3 * dpr, 0.03 * scale));
    for (const [x, y] of scan) ctx.fillRect(X(x) - dot / 2, Y(y) - dot / 2, dot, dot);

    // TF frames: x red, y green
    const frames = telemetry.framesIn(frame);
    const labels = []; // frames at one spot share one label ("map, odom")
    for (const f of frames) {
      this._axes(ctx, dpr, colors, X, Y, scale, f);
      const near = labels.find((l) => Math.hypot(l.x - X(f.x), l.y - Y(f.y)) < 14 * dpr);
      if (near) near.names.push(f.name);
      else labels.push({ x: X(f.x), y: Y(f.y), names: [f.name] });
    }
    for (const l of labels) {
      this._label(ctx, dpr, colors, l.names.sort().join(", "), l.x + 3 * dpr, l.y + 12 * dpr, "left");
    }

    // robot (its footprint), the path over it, its heading on top
    const r = Math.max(ROBOT_RADIUS * scale, 7 * dpr);
    const px = pose ? X(pose.x) : 0;
    const py = pose ? Y(pose.y) : 0;
    if (pose) {
      ctx.fillStyle = colors.robot;
      ctx.strokeStyle = colors.robot;
      ctx.lineWidth = 2 * dpr;
      ctx.beginPath();
      ctx.arc(px, py, r, 0, 2 * Math.PI);
      const alpha = ctx.globalAlpha;
      ctx.globalAlpha = 0.35 * alpha;
      ctx.fill();
      ctx.globalAlpha = alpha;
      ctx.stroke();
    }

    const path = telemetry.path;
    ctx.strokeStyle = colors.path;
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
      ctx.strokeStyle = colors.heading;
      ctx.lineWidth = 2.5 * dpr;
      ctx.beginPath();
      ctx.moveTo(px, py);
      ctx.lineTo(px + 1.6 * r * Math.cos(pose.theta), py - 1.6 * r * Math.sin(pose.theta));
      ctx.stroke();
    }
    ctx.globalAlpha = 1;

    for (const goal of [this.goal, this._drag].filter(Boolean)) {
      this._arrow(ctx, dpr, colors.goal, X(goal.x), Y(goal.y), goal.theta, goal === this._drag);
    }
    if (stale && pose) {
      const age = telemetry.ros.connected ? fmtAge(telemetry.age("odom")) : "offline";
      this._label(ctx, dpr, colors, `stale · ${age}`, width / 2, 18 * dpr, "center");
    }
    if (this.goalMode) {
      this._label(ctx, dpr, colors, "goal: press where, drag which way", 6 * dpr, 16 * dpr, "left");
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
    data.frames = frames.map((f) => f.name).sort().join(" ");
    data.gridCells = gridPose ? String(grid.width * grid.height) : "0";
    data.stale = String(stale);
    data.draws = String(this.draws);
    if (this.readout && pose) {
      const degrees = (pose.theta * 180) / Math.PI;
      this.readout.textContent = `x ${fmt(pose.x)}  y ${fmt(pose.y)}  θ ${fmt(degrees, 0)}°`;
      this.readout.classList.toggle("stale", stale);
    }
  }

  _axes(ctx, dpr, colors, X, Y, scale, f) {
    const len = Math.max(AXIS * scale, 14 * dpr);
    const x0 = X(f.x);
    const y0 = Y(f.y);
    ctx.lineWidth = 1.5 * dpr;
    for (const [angle, color] of [[f.theta, colors.x], [f.theta + Math.PI / 2, colors.y]]) {
      ctx.strokeStyle = color;
      ctx.beginPath();
      ctx.moveTo(x0, y0);
      ctx.lineTo(x0 + len * Math.cos(angle), y0 - len * Math.sin(angle));
      ctx.stroke();
    }
  }

  _arrow(ctx, dpr, color, x, y, theta, dashed) {
    const len = 26 * dpr;
    const tx = x + len * Math.cos(theta);
    const ty = y - len * Math.sin(theta);
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = 3 * dpr;
    ctx.setLineDash(dashed ? [4 * dpr, 3 * dpr] : []);
    ctx.beginPath();
    ctx.arc(x, y, 5 * dpr, 0, 2 * Math.PI);
    ctx.moveTo(x, y);
    ctx.lineTo(tx, ty);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.beginPath();
    const a = 0.5;
    ctx.moveTo(tx, ty);
    ctx.lineTo(tx - 9 * dpr * Math.cos(theta - a), ty + 9 * dpr * Math.sin(theta - a));
    ctx.lineTo(tx - 9 * dpr * Math.cos(theta + a), ty + 9 * dpr * Math.sin(theta + a));
    ctx.closePath();
    ctx.fill();
  }

  /** The world point (m, in the view's frame) under a pointer event. */
  _world(event) {
    const v = this._view;
    if (!v) return null;
    const rect = this.canvas.getBoundingClientRect();
    const sx = (event.clientX - rect.left) * v.dpr;
    const sy = (event.clientY - rect.top) * v.dpr;
    return { x: v.cx + (sx - v.width / 2) / v.scale, y: v.cy - (sy - v.height / 2) / v.scale, sx, sy };
  }

  _bindGoal() {
    const canvas = this.canvas;
    let start = null;
    canvas.addEventListener("pointerdown", (event) => {
      if (!this.goalMode || event.button !== 0) return;
      const at = this._world(event);
      if (!at) return;
      event.preventDefault();
      canvas.setPointerCapture?.(event.pointerId);
      start = at;
      this._drag = { x: at.x, y: at.y, theta: this.telemetry.pose?.theta || 0 };
      this.invalidate();
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!start) return;
      const at = this._world(event);
      if (Math.hypot(at.sx - start.sx, at.sy - start.sy) >= MIN_DRAG) {
        this._drag.theta = Math.atan2(at.y - start.y, at.x - start.x);
      }
      this.invalidate();
    });
    const end = (event, send) => {
      if (!start) return;
      const goal = this._drag;
      start = null;
      this._drag = null;
      if (send && goal) {
        this.goal = goal;
        this.onGoal?.({ ...goal, frame: this._view?.frame || "odom" });
      }
      this.invalidate();
    };
    canvas.addEventListener("pointerup", (event) => end(event, true));
    canvas.addEventListener("pointercancel", (event) => end(event, false));
  }

  _grid(ctx, dpr, colors, scale, X, Y, width, height, cx, cy) {
    // 1 m cells, coarser when they would be smaller than 24 px
    let step = 1;
    while (step * scale < 24 * dpr) step *= 2;
    const x0 = cx - width / 2 / scale;
    const x1 = cx + width / 2 / scale;
    const y0 = cy - height / 2 / scale;
    const y1 = cy + height / 2 / scale;
    ctx.lineWidth = 1;
    for (let x = Math.ceil(x0 / step) * step; x <= x1; x += step) {
      ctx.strokeStyle = Math.round(x) === 0 ? colors.gridMajor : colors.grid;
      ctx.beginPath();
      ctx.moveTo(Math.round(X(x)) + 0.5, 0);
      ctx.lineTo(Math.round(X(x)) + 0.5, height);
      ctx.stroke();
      this._label(ctx, dpr, colors, `${x}`, X(x) + 3 * dpr, height - 4 * dpr, "left");
    }
    for (let y = Math.ceil(y0 / step) * step; y <= y1; y += step) {
      ctx.strokeStyle = Math.round(y) === 0 ? colors.gridMajor : colors.grid;
      ctx.beginPath();
      ctx.moveTo(0, Math.round(Y(y)) + 0.5);
      ctx.lineTo(width, Math.round(Y(y)) + 0.5);
      ctx.stroke();
      this._label(ctx, dpr, colors, `${y}`, 3 * dpr, Y(y) - 3 * dpr, "left");
    }
    this._label(ctx, dpr, colors, `grid ${step} m`, width - 6 * dpr, height - 20 * dpr, "right");
  }

  _label(ctx, dpr, colors, text, x, y, align) {
    ctx.fillStyle = colors.label;
    ctx.font = `${11 * dpr}px system-ui, sans-serif`;
    ctx.textAlign = align;
    ctx.fillText(text, x, y);
  }
}

export { STALE_S };
