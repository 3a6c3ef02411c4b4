// The Log tab: the robot's log (/rosout as rosgraph_msgs/Log, ROS 2's rcl_interfaces/msg/Log, or
// /rosout_agg when the graph has
// it) and rosweb's own events (GET /api/log: lease changes, e-stops, deadman stops, warnings) in
// one list, newest first, with a level filter, a node filter and a search. It records from the
// page's start, whatever the tab; the filters are remembered by the browser.

import { $, api, apiPath, baseType, h, layout } from "./util.js";

const KEEP = 1000; // lines kept
const SHOWN = 300; // lines rendered
const POLL_MS = 2000;
export const LEVELS = { debug: 1, info: 2, warn: 4, error: 8, fatal: 16 };
const ROSOUT_LEVELS = { 1: "debug", 2: "info", 4: "warn", 8: "error", 16: "fatal" };
const ROS2_LEVELS = { 10: "debug", 20: "info", 30: "warn", 40: "error", 50: "fatal" };
const LOG_TYPES = ["rosgraph_msgs/Log", "rcl_interfaces/Log"];
const EVENT_LEVELS = { debug: "debug", info: "info", warning: "warn", error: "error", critical: "fatal" };
const BADGE = { debug: "secondary", info: "info", warn: "warning", error: "danger", fatal: "danger" };

export class LogPanel {
  constructor(ros, root) {
    this.ros = ros;
    this.root = root;
    this.lines = [];
    this.nodes = new Set();
    this.after = 0;
    this.visible = false;
    this._off = null;
    this._pending = false;
    const saved = layout.get("log.filters", {});
    $("#log-level", root).value = saved.level || "debug";
    $("#log-search", root).value = saved.search || "";
    this._node = saved.node || "";
    for (const id of ["#log-level", "#log-node", "#log-search"]) {
      $(id, root).addEventListener("input", () => {
        this._node = $("#log-node", root).value;
        layout.set("log.filters", { level: $("#log-level", root).value, node: this._node, search: $("#log-search", root).value });
        this.render();
      });
    }
    $("#log-clear", root).addEventListener("click", () => {
      this.lines = [];
      this.render();
    });
    this._poll();
    setInterval(() => this._poll(), POLL_MS);
  }

  /** Follow the graph's log topic (from GET /api/topics). */
  start(topics) {
    const logs = topics.filter((t) => LOG_TYPES.includes(baseType(t.type)));
    const names = logs.map((t) => t.name);
    const topic = names.includes("/rosout_agg") ? "/rosout_agg" : names.includes("/rosout") ? "/rosout" : names[0];
    const type = logs.find((t) => t.name === topic)?.type;
    const ros2 = baseType(type) === "rcl_interfaces/Log";
    this._off?.();
    this._off = null;
    $("#log-source", this.root).textContent = topic ? `${topic} and rosweb` : "rosweb (no rosgraph_msgs/Log topic)";
    if (!topic) return;
    this._off = this.ros.subscribe(topic, (msg) => {
      const stamp = ros2 ? msg.stamp : msg.header?.stamp; // ROS 2: {sec, nanosec}, no header
      const secs = ros2 ? stamp?.sec : stamp?.secs;
      const time = secs ? secs + ((ros2 ? stamp.nanosec : stamp.nsecs) || 0) * 1e-9 : Date.now() / 1000;
      const level = (ros2 ? ROS2_LEVELS : ROSOUT_LEVELS)[msg.level] || "info";
      this._add({ time, level, node: msg.name || "?", msg: msg.msg, source: "rosout" });
    }, { type, queue_length: 100 });
  }

  show() {
    this.visible = true;
    this.render();
  }

  hide() {
    this.visible = false;
  }

  async _poll() {
    try {
      const { events, last } = await api(apiPath("log"), { query: { after: this.after } });
      if (last < this.after) this.after = 0; // the server restarted: its numbers start again
      else this.after = last;
      for (const e of events) {
        this._add({ time: e.time, level: EVENT_LEVELS[e.level] || "info", node: "rosweb", msg: e.msg, source: "rosweb" });
      }
      if (events.length) this.render();
      this.root.dataset.polled = "true";
    } catch {
      /* offline: the connection badge says so */
    }
  }

  _add(line) {
    this.lines.push(line);
    if (this.lines.length > KEEP) this.lines.splice(0, this.lines.length - KEEP);
    if (!this.nodes.has(line.node)) {
      this.nodes.add(line.node);
      this._renderNodes();
    }
    if (this.visible && !this._pending) {
      this._pending = true;
      setTimeout(() => {
        this._pending = false;
        this.render();
      }, 200);
    }
  }

  _renderNodes() {
    const select = $("#log-node", this.root);
    select.replaceChildren(h("option", { value: "" }, "every node"), ...[...this.nodes].sort().map((n) => h("option", { value: n, selected: n === this._node }, n)));
  }

  filtered() {
    const min = LEVELS[$("#log-level", this.root).value] || 1;
    const node = $("#log-node", this.root).value;
    const search = $("#log-search", this.root).value.trim().toLowerCase();
    return this.lines.filter(
      (l) => LEVELS[l.level] >= min && (!node || l.node === node) && (!search || l.msg.toLowerCase().includes(search) || l.node.toLowerCase().includes(search)),
    );
  }

  render() {
    if (!this.visible) return;
    const lines = this.filtered();
    const rows = lines.slice(-SHOWN).reverse().map((l) =>
      h(
        "tr",
        { dataset: { level: l.level, source: l.source } },
        h("td", { class: "text-nowrap text-body-secondary" }, new Date(l.time * 1000).toLocaleTimeString()),
        h("td", {}, h("span", { class: `badge text-bg-${BADGE[l.level]}` }, l.level)),
        h("td", { class: "text-nowrap log-node" }, l.node),
        h("td", { class: "log-msg" }, l.msg),
      ),
    );
    $("#log-rows", this.root).replaceChildren(...rows);
    $("#log-count", this.root).textContent = `${lines.length} of ${this.lines.length}`;
  }
}
