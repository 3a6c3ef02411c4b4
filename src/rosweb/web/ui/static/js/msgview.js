// How the Topics tab shows a message: a collapsible tree (any type), a polar view of a
// LaserScan. Images are shown by the page as the MJPEG stream, never as their base64 data.

import { h } from "./util.js";

const MAX_ITEMS = 24; // array elements shown
const MAX_TEXT = 160; // characters of a string shown

function leafText(value) {
  if (value === null) return "null";
  if (typeof value === "string") {
    const shown = value.length > MAX_TEXT ? `${value.slice(0, 48)}… (${value.length} characters)` : value;
    return JSON.stringify(shown);
  }
  return String(value);
}

/** A message as nested <details>: branches keep their open state across updates (by path). */
export class MessageTree {
  constructor(root) {
    this.root = root;
    this.open = new Set([""]); // paths of open branches; the top level starts open
    // A click on a summary is taken as it happens: its toggle event comes a task later, and a
    // message arriving in between replaces the branch, so that event would go to a detached one.
    root.addEventListener("click", (event) => {
      const summary = event.target.closest?.("summary");
      const details = summary?.parentElement;
      if (!details || details.dataset.path === undefined || !root.contains(details)) return;
      if (details.open) this.open.delete(details.dataset.path);
      else this.open.add(details.dataset.path);
    });
    root.addEventListener("toggle", (event) => {
      const path = event.target.dataset?.path;
      if (path === undefined) return;
      if (event.target.open) this.open.add(path);
      else this.open.delete(path);
    }, true);
  }

  render(msg) {
    this.root.replaceChildren(this._node("", "", msg));
  }

  _node(path, name, value) {
    if (value === null || typeof value !== "object") {
      return h("div", { class: "tree-leaf", dataset: { path } }, name ? h("span", { class: "tree-key" }, `${name}: `) : null, h("span", { class: `tree-value tree-${value === null ? "null" : typeof value}` }, leafText(value)));
    }
    const entries = Array.isArray(value) ? value.slice(0, MAX_ITEMS).map((v, i) => [String(i), v]) : Object.entries(value);
    const size = Array.isArray(value) ? `[${value.length}]` : `{${entries.length}}`;
    const open = this.open.has(path);
    const details = h("details", { class: "tree-branch", dataset: { path }, open });
    details.append(h("summary", {}, name ? h("span", { class: "tree-key" }, name) : h("span", { class: "tree-key" }, "message"), " ", h("span", { class: "text-body-secondary small" }, size)));
    if (open) {
      // children only for an open branch: a closed one costs nothing to update
      const children = h("div", { class: "tree-children" });
      for (const [key, child] of entries) {
        const childPath = Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
        children.append(this._node(childPath, key, child));
      }
      if (Array.isArray(value) && value.length > MAX_ITEMS) {
        children.append(h("div", { class: "tree-leaf text-body-secondary" }, `… ${value.length - MAX_ITEMS} more`));
      }
      details.append(children);
    } else {
      details.addEventListener("toggle", () => details.open && this.root.dispatchEvent(new CustomEvent("rerender")), { once: true });
    }
    return details;
  }
}

/** A LaserScan drawn around the sensor: points, range rings, the sensor's forward direction. */
export function drawScan(canvas, msg) {
  const dpr = window.devicePixelRatio || 1;
  const size = Math.max(1, Math.round(canvas.clientWidth * dpr));
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext("2d");
  const css = getComputedStyle(canvas);
  ctx.fillStyle = css.getPropertyValue("--rw-map-bg").trim() || "#0f1318";
  ctx.fillRect(0, 0, size, size);
  const ranges = (msg.ranges || []).map((r) => (r !== null && r >= msg.range_min && r <= msg.range_max ? r : null));
  const far = Math.max(0.5, ...ranges.filter((r) => r !== null));
  const scale = (size / 2 - 12 * dpr) / far;
  const c = size / 2;
  ctx.strokeStyle = css.getPropertyValue("--rw-map-grid-major").trim() || "rgba(255,255,255,0.16)";
  ctx.fillStyle = css.getPropertyValue("--rw-map-label").trim() || "#7d8691";
  ctx.font = `${10 * dpr}px system-ui, sans-serif`;
  const step = far > 8 ? 5 : far > 3 ? 2 : 1;
  for (let r = step; r <= far; r += step) {
    ctx.beginPath();
    ctx.arc(c, c, r * scale, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.fillText(`${r} m`, c + 3 * dpr, c - r * scale - 2 * dpr);
  }
  ctx.beginPath(); // forward (x) is up
  ctx.moveTo(c, c);
  ctx.lineTo(c, c - far * scale);
  ctx.stroke();
  ctx.fillStyle = "#ff7a59";
  const dot = Math.max(2, 2 * dpr);
  let shown = 0;
  ranges.forEach((r, i) => {
    if (r === null) return;
    const a = msg.angle_min + i * msg.angle_increment;
    ctx.fillRect(c - r * scale * Math.sin(a) - dot / 2, c - r * scale * Math.cos(a) - dot / 2, dot, dot);
    shown += 1;
  });
  canvas.dataset.points = String(shown);
}
