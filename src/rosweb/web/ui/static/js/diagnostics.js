// The Diagnostics tab: /diagnostics (diagnostic_msgs/DiagnosticArray; /diagnostics_agg when the
// graph has it) as a table, one row per component: OK green, WARN amber, ERROR red, STALE grey;
// its key/value pairs on demand, and how long ago it reported. Rows not updated for STALE_S are
// greyed.

import { $, baseType, fmtAge, h } from "./util.js";

const LEVELS = { 0: ["OK", "success"], 1: ["WARN", "warning"], 2: ["ERROR", "danger"], 3: ["STALE", "secondary"] };
const STALE_S = 10;

export class DiagnosticsPanel {
  constructor(ros, root) {
    this.ros = ros;
    this.root = root;
    this.status = new Map(); // name -> {status, at}
    this.visible = false;
    this._off = null;
    this._timer = null;
    this._expanded = new Set();
  }

  start(topics) {
    const names = topics.filter((t) => baseType(t.type) === "diagnostic_msgs/DiagnosticArray").map((t) => t.name);
    const topic = names.includes("/diagnostics_agg") ? "/diagnostics_agg" : names.includes("/diagnostics") ? "/diagnostics" : names[0];
    this._off?.();
    this._off = null;
    $("#diag-source", this.root).textContent = topic || "no diagnostic_msgs/DiagnosticArray topic";
    if (!topic) return;
    this._off = this.ros.subscribe(topic, (msg) => {
      const at = performance.now();
      for (const s of msg.status || []) this.status.set(s.name, { status: s, at });
      if (this.visible) this.render();
    }, { type: "diagnostic_msgs/DiagnosticArray", queue_length: 10 });
  }

  show() {
    this.visible = true;
    this.render();
    clearInterval(this._timer);
    this._timer = setInterval(() => this.render(), 1000);
  }

  hide() {
    this.visible = false;
    clearInterval(this._timer);
  }

  render() {
    const now = performance.now();
    const rows = [];
    const counts = { OK: 0, WARN: 0, ERROR: 0, STALE: 0 };
    for (const [name, { status, at }] of [...this.status].sort((a, b) => a[0].localeCompare(b[0]))) {
      const age = (now - at) / 1000;
      const stale = age > STALE_S || !this.ros.connected;
      const [label, color] = stale ? LEVELS[3] : LEVELS[status.level] || LEVELS[3];
      counts[label] += 1;
      const open = this._expanded.has(name);
      const toggle = () => {
        if (open) this._expanded.delete(name);
        else this._expanded.add(name);
        this.render();
      };
      rows.push(
        h(
          "tr",
          { class: stale ? "stale" : "", dataset: { component: name, level: label } },
          h("td", {}, h("span", { class: `badge text-bg-${color} diag-badge` }, label)),
          h("td", { class: "font-monospace" }, h("button", { type: "button", class: "btn btn-link btn-sm p-0 text-start", "aria-expanded": String(open), onclick: toggle }, name)),
          h("td", {}, status.message),
          h("td", { class: "text-nowrap text-body-secondary small" }, fmtAge(age)),
        ),
      );
      if (open) {
        rows.push(
          h("tr", { class: "diag-values" }, h("td", {}), h("td", { colspan: 3 }, h("dl", { class: "row mb-0 small font-monospace" }, ...status.values.flatMap((kv) => [h("dt", { class: "col-5 fw-normal text-body-secondary" }, kv.key), h("dd", { class: "col-7 mb-0" }, kv.value)])), h("div", { class: "small text-body-secondary" }, status.hardware_id ? `hardware: ${status.hardware_id}` : ""))),
        );
      }
    }
    $("#diag-rows", this.root).replaceChildren(...rows);
    $("#diag-empty", this.root).hidden = this.status.size > 0;
    $("#diag-summary", this.root).textContent = Object.entries(counts).filter(([, n]) => n).map(([k, n]) => `${n} ${k}`).join(" · ");
  }
}
