// The Topics tab: every topic with its type and rate; one topic's latest message live, a plot of
// its numeric fields, and a form to publish to it.

import { buildForm } from "./forms.js";
import { TopicPlot } from "./plot.js";
import { HEAVY_TYPES, RateMeter, measure } from "./rates.js";
import { $, abridge, api, apiPath, fmtRate, h, numericPaths, toast } from "./util.js";

const LIST_REFRESH_MS = 5000;
const VIEW_MS = 200; // the message view refreshes at 5 Hz
const PLOT_MS = 45; // the plot takes up to ~20 points a second

export class TopicsPage {
  /**
   * @param {import("./rosweb.js").Ros} ros
   * @param {(topic: string, msg: object) => string|null} guard  a reason to refuse a publication
   */
  constructor(ros, guard) {
    this.ros = ros;
    this.guard = guard;
    this.topics = [];
    this.meters = new Map(); // topic -> RateMeter
    this.offs = new Map(); // topic -> unsubscribe (rate)
    this.selected = null;
    this.visible = false;
    this.paused = false;
    this.plot = new TopicPlot($("#plot"));
    this.form = null;
    this._offDetail = null;
    this._timers = [];
    this._fields = [];
    this._lastView = 0;
    this._lastPlot = 0;
    this._count = 0;

    $("#topics-filter").addEventListener("input", () => this._renderList());
    $("#topic-pause").addEventListener("click", () => {
      this.paused = !this.paused;
      $("#topic-pause").textContent = this.paused ? "resume" : "pause";
      $("#topic-pause").setAttribute("aria-pressed", String(this.paused));
    });
    $("#plot-add").addEventListener("click", () => {
      const path = $("#plot-field").value;
      if (path) this.plot.add(path);
    });
    $("#plot-clear").addEventListener("click", () => this.plot.clear());
    $("#publish-section").addEventListener("toggle", () => {
      if ($("#publish-section").open) this._buildPublishForm();
    });
    $("#publish-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this._publish();
    });
  }

  async show(arg) {
    this.visible = true;
    await this.refresh();
    if (arg) this.select(`/${arg}`);
    else if (this.selected) this._subscribeDetail();
    this._timers.push(setInterval(() => this._updateRates(), 1000));
    this._timers.push(setInterval(() => this.refresh(), LIST_REFRESH_MS));
  }

  navigate(arg) {
    this.select(`/${arg}`);
  }

  hide() {
    this.visible = false;
    for (const timer of this._timers) clearInterval(timer);
    this._timers = [];
    for (const off of this.offs.values()) off();
    this.offs.clear();
    this._offDetail?.();
    this._offDetail = null;
  }

  async refresh() {
    let topics;
    try {
      ({ topics } = await api(apiPath("topics")));
    } catch (err) {
      return; // offline: keep what we have
    }
    if (!this.visible) return;
    const key = (list) => list.map((t) => `${t.name} ${t.type}`).join("\n");
    const changed = key(topics) !== key(this.topics);
    this.topics = topics;
    for (const { name, type } of topics) {
      if (!this.meters.has(name)) this.meters.set(name, new RateMeter());
      if (!this.offs.has(name)) this.offs.set(name, measure(this.ros, name, type, this.meters.get(name)));
    }
    if (changed || !$("#topics-list").children.length) this._renderList();
  }

  _renderList() {
    const filter = $("#topics-filter").value.trim().toLowerCase();
    const list = $("#topics-list");
    const items = this.topics
      .filter((t) => !filter || t.name.toLowerCase().includes(filter) || t.type.toLowerCase().includes(filter))
      .map((t) =>
        h(
          "a",
          {
            class: `list-group-item list-group-item-action d-flex align-items-center gap-2${t.name === this.selected ? " active" : ""}`,
            href: `#topics${t.name}`,
            role: "listitem",
            dataset: { topic: t.name },
          },
          h("div", { class: "text-truncate" }, h("div", { class: "font-monospace fw-medium text-truncate" }, t.name), h("div", { class: "small opacity-75 text-truncate" }, t.type)),
          h("span", { class: "ms-auto badge rounded-pill text-bg-dark font-monospace rate", dataset: { rateOf: t.name } }, "–"),
        ),
      );
    list.replaceChildren(...items);
    $("#topics-count").textContent = String(this.topics.length);
    this._updateRates();
  }

  _updateRates() {
    for (const badge of document.querySelectorAll("#topics-list [data-rate-of]")) {
      badge.textContent = fmtRate(this.meters.get(badge.dataset.rateOf)?.hz);
    }
    if (this.selected) {
      const hz = this.meters.get(this.selected)?.hz;
      $("#topic-stats").textContent = `${fmtRate(hz)} · ${this._count} received`;
    }
  }

  select(name) {
    const topic = this.topics.find((t) => t.name === name);
    if (!topic) {
      toast(`no topic ${name}`, "warning");
      return;
    }
    if (this.selected !== name) {
      this.selected = name;
      this.type = topic.type;
      this.plot.clear();
      this.form = null;
      this._fields = [];
      this._count = 0;
      $("#publish-section").open = false;
      $("#publish-fields").replaceChildren();
      $("#publish-result").textContent = "";
      $("#topic-name").textContent = name;
      $("#topic-type").textContent = topic.type;
      $("#topic-message").textContent = "waiting for a message…";
      $("#plot-field").replaceChildren(h("option", { value: "" }, "numeric field…"));
      for (const item of document.querySelectorAll("#topics-list [data-topic]")) {
        item.classList.toggle("active", item.dataset.topic === name);
      }
    }
    $("#topic-empty").hidden = true;
    $("#topic-body").hidden = false;
    this._subscribeDetail();
    if (window.matchMedia("(max-width: 991px)").matches) {
      $("#topic-detail").scrollIntoView({ behavior: "smooth", block: "start" });
    }
  }

  _subscribeDetail() {
    this._offDetail?.();
    const name = this.selected;
    const heavy = HEAVY_TYPES.has(this.type);
    this._offDetail = this.ros.subscribe(name, (msg) => this._onMessage(msg), {
      type: this.type,
      throttle_rate: heavy ? 500 : 0,
    });
  }

  _onMessage(msg) {
    const now = performance.now();
    this._count += 1;
    if (now - this._lastPlot >= PLOT_MS) {
      this._lastPlot = now;
      this.plot.push(msg);
    }
    if (!this._fields.length) {
      this._fields = numericPaths(msg);
      $("#plot-field").replaceChildren(
        h("option", { value: "" }, this._fields.length ? "numeric field…" : "no numeric field"),
        ...this._fields.map((path) => h("option", { value: path }, path)),
      );
    }
    if (this.paused || now - this._lastView < VIEW_MS) return;
    this._lastView = now;
    const text = JSON.stringify(abridge(msg), null, 2);
    $("#topic-message").textContent = text;
  }

  async _buildPublishForm() {
    if (this.form) return;
    const container = $("#publish-fields");
    container.replaceChildren(h("div", { class: "small text-body-secondary" }, "loading the schema…"));
    try {
      const schema = await api(apiPath("types", this.type));
      this.form = buildForm(container, schema);
    } catch (err) {
      container.replaceChildren(h("div", { class: "text-danger small" }, `no schema: ${err.message}`));
    }
  }

  async _publish() {
    if (!this.form) return;
    const result = $("#publish-result");
    let msg;
    try {
      msg = this.form.value();
    } catch (err) {
      result.className = "small text-danger";
      result.textContent = err.message;
      return;
    }
    const refusal = this.guard(this.selected, msg);
    if (refusal) {
      result.className = "small text-danger";
      result.textContent = refusal;
      return;
    }
    try {
      await api(apiPath("topics", this.selected), { method: "POST", body: msg, query: { type: this.type } });
      result.className = "small text-success";
      result.textContent = `published at ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      result.className = "small text-danger";
      result.textContent = err.message;
      if (err.field) this.form.showError(err.field, err.message);
    }
  }
}
