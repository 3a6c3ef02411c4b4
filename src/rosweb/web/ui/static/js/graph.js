// The Graph tab: who publishes and subscribes what (GET /api/graph, the backend's introspection),
// drawn as nodes (left) and topics (right): a blue line from a publisher to its topic, an orange
// one from a topic to a subscriber. Choosing a node or a topic highlights its links; the same
// facts are listed as text below.

import { $, api, apiPath, h } from "./util.js";

const REFRESH_MS = 5000;
const ROW = 26; // px between rows
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

export class GraphPanel {
  constructor(root) {
    this.root = root;
    this.data = null;
    this.focus = null; // a node or topic name
    this.visible = false;
    this._timer = null;
    $("#graph-hide-rosweb", root).addEventListener("change", () => this.render());
  }

  async show() {
    this.visible = true;
    await this.refresh();
    clearInterval(this._timer);
    this._timer = setInterval(() => this.refresh(), REFRESH_MS);
  }

  hide() {
    this.visible = false;
    clearInterval(this._timer);
  }

  async refresh() {
    try {
      this.data = await api(apiPath("graph"));
    } catch {
      return;
    }
    if (this.visible) this.render();
  }

  render() {
    const data = this.data;
    if (!data) return;
    $("#graph-unavailable", this.root).hidden = data.available;
    const hideOwn = $("#graph-hide-rosweb", this.root).checked;
    const own = (n) => hideOwn && n === "/rosweb";
    const topics = data.topics.filter((t) => t.publishers.some((n) => !own(n)) || t.subscribers.some((n) => !own(n)));
    const nodes = data.nodes.filter((n) => !own(n));
    const width = Math.max(320, this.root.clientWidth - 2);
    const left = Math.min(170, width * 0.38);
    const right = width - Math.min(230, width * 0.5);
    const height = Math.max(nodes.length, topics.length) * ROW + 20;
    const rows = Math.max(nodes.length, topics.length);
    const centred = (count) => ((rows - count) * ROW) / 2; // the shorter column in the middle
    const ny = new Map(nodes.map((n, i) => [n, 20 + centred(nodes.length) + i * ROW]));
    const ty = new Map(topics.map((t, i) => [t.name, 20 + centred(topics.length) + i * ROW]));
    const chart = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "graph-svg", role: "img", "aria-label": "node and topic graph" });
    const edges = svg("g", { class: "graph-edges" });
    const lit = (a, b) => !this.focus || this.focus === a || this.focus === b;
    let count = 0;
    for (const t of topics) {
      for (const [list, kind] of [[t.publishers, "pub"], [t.subscribers, "sub"]]) {
        for (const n of list) {
          if (!ny.has(n)) continue;
          const y1 = ny.get(n);
          const y2 = ty.get(t.name);
          const mid = (left + right) / 2;
          edges.append(svg("path", { d: `M${left + 4} ${y1} C${mid} ${y1} ${mid} ${y2} ${right - 4} ${y2}`, class: `graph-edge graph-${kind}${lit(n, t.name) ? "" : " dim"}`, "data-node": n, "data-topic": t.name, "data-kind": kind }));
          count += 1;
        }
      }
    }
    chart.append(edges);
    const pick = (name) => () => {
      this.focus = this.focus === name ? null : name;
      this.render();
    };
    for (const n of nodes) {
      const g = svg("g", { class: `graph-node${this.focus === n ? " focus" : ""}`, "data-node": n, tabindex: 0 });
      g.append(svg("circle", { cx: left, cy: ny.get(n), r: 5 }), svg("text", { x: left - 10, y: ny.get(n) + 4, "text-anchor": "end" }, n));
      g.addEventListener("click", pick(n));
      chart.append(g);
    }
    for (const t of topics) {
      const g = svg("g", { class: `graph-topic${this.focus === t.name ? " focus" : ""}`, "data-topic": t.name, tabindex: 0 });
      g.append(svg("rect", { x: right - 5, y: ty.get(t.name) - 5, width: 10, height: 10, rx: 2 }), svg("text", { x: right + 10, y: ty.get(t.name) + 4 }, t.name));
      g.addEventListener("click", pick(t.name));
      chart.append(g);
    }
    $("#graph-view", this.root).replaceChildren(chart);
    $("#graph-summary", this.root).textContent = `${nodes.length} nodes · ${topics.length} topics · ${count} links`;
    const shown = this.focus ? topics.filter((t) => t.name === this.focus || t.publishers.includes(this.focus) || t.subscribers.includes(this.focus)) : topics;
    $("#graph-list", this.root).replaceChildren(
      ...shown.map((t) =>
        h("li", { class: "list-group-item small" }, h("span", { class: "font-monospace fw-medium" }, t.name), " ", h("span", { class: "text-body-secondary" }, t.type),
          h("div", { class: "font-monospace" }, h("span", { class: "graph-pub-text" }, "pub "), t.publishers.join(", ") || "–", h("span", { class: "graph-sub-text ms-3" }, "sub "), t.subscribers.join(", ") || "–")),
      ),
    );
  }
}
