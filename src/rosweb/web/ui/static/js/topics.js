// The Topics tab: every topic with its type, rate and bandwidth (the server's count: nothing is
// downloaded to measure it); one topic live: an image topic as its MJPEG stream, a LaserScan as a
// polar view, any message as a collapsible tree; its numeric fields to the Plot tab; a form to
// publish to it. The open topic is remembered by the browser.

import { streamUrl } from "./camera.js";
import { buildForm } from "./forms.js";
import { MessageTree, drawScan } from "./msgview.js";
import { HEAVY_TYPES } from "./rates.js";
import { $, api, apiPath, baseType, disableFor, h, layout, numericPaths, toast } from "./util.js";

const LIST_REFRESH_MS = 5000;
const VIEW_MS = 200; // the message view refreshes at 5 Hz
const IMAGES = new Set(["sensor_msgs/Image", "sensor_msgs/CompressedImage"]);
const BLANK = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";

export class TopicsPage {
  /**
   * @param {import("./rosweb.js").Ros} ros
   * @param {(topic: string, msg: object) => string|null} guard  a reason to refuse a publication
   * @param {import("./rates.js").TopicRates} rates  the server's rates
   * @param {import("./plot.js").PlotPanel} plot  where "Plot" sends a field
   */
  constructor(ros, guard, rates, plot) {
    this.ros = ros;
    this.guard = guard;
    this.rates = rates;
    this.plot = plot;
    this.topics = [];
    this.selected = null;
    this.visible = false;
    this.paused = false;
    this.form = null;
    this.tree = new MessageTree($("#topic-message"));
    this.last = null;
    this._offDetail = null;
    this._timers = [];
    this._fields = [];
    this._lastView = 0;
    this._count = 0;

    $("#topics-filter").addEventListener("input", () => this._renderList());
    $("#topic-pause").addEventListener("click", () => {
      this.paused = !this.paused;
      $("#topic-pause").textContent = this.paused ? "resume" : "pause";
      $("#topic-pause").setAttribute("aria-pressed", String(this.paused));
    });
    $("#topic-message").addEventListener("rerender", () => this.last && this.tree.render(this.last));
    $("#plot-add").addEventListener("click", () => {
      const path = $("#plot-field").value;
      if (path) this.plot.add(this.selected, this.type, path);
    });
    $("#publish-section").addEventListener("toggle", () => {
      if ($("#publish-section").open) this._buildPublishForm();
    });
    $("#publish-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this._publish();
    });
    disableFor("operator", $("#publish-submit"), "publishing", $("#publish-hint"));
    rates.addEventListener("update", () => this.visible && this._updateRates());
  }

  async show(arg) {
    this.visible = true;
    this.rates.want("topics");
    await this.refresh();
    const saved = layout.get("topics.open", null);
    if (arg) this.select(`/${arg}`);
    else if (this.selected) this._subscribeDetail();
    else if (saved && this.topics.some((t) => t.name === saved)) this.select(saved, { scroll: false });
    this._timers.push(setInterval(() => this.refresh(), LIST_REFRESH_MS));
  }

  navigate(arg) {
    this.select(`/${arg}`);
  }

  hide() {
    this.visible = false;
    this.rates.release("topics");
    for (const timer of this._timers) clearInterval(timer);
    this._timers = [];
    this._unsubscribeDetail();
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
          h(
            "div",
            { class: "ms-auto text-end flex-shrink-0" },
            h("span", { class: "badge rounded-pill text-bg-dark font-monospace rate", dataset: { rateOf: t.name } }, "–"),
            h("div", { class: "small opacity-75 font-monospace", dataset: { bandwidthOf: t.name } }),
          ),
        ),
      );
    list.replaceChildren(...items);
    $("#topics-count").textContent = String(this.topics.length);
    this._updateRates();
  }

  _updateRates() {
    for (const badge of document.querySelectorAll("#topics-list [data-rate-of]")) {
      const name = badge.dataset.rateOf;
      badge.textContent = this.rates.text(name);
      badge.title = this.rates.hz(name) === null ? "the server does not receive it (nobody watches it)" : "";
    }
    for (const el of document.querySelectorAll("#topics-list [data-bandwidth-of]")) {
      el.textContent = this.rates.bandwidth(el.dataset.bandwidthOf);
    }
    if (this.selected) {
      const bw = this.rates.bandwidth(this.selected);
      $("#topic-stats").textContent = `${this.rates.text(this.selected)}${bw ? ` · ${bw}` : ""} · ${this._count} received`;
    }
  }

  select(name, { scroll = true } = {}) {
    const topic = this.topics.find((t) => t.name === name);
    if (!topic) {
      toast(`no topic ${name}`, "warning", { key: "topic" });
      return;
    }
    if (this.selected !== name) {
      this._unsubscribeDetail();
      this.selected = name;
      this.type = topic.type;
      this.form = null;
      this.last = null;
      this._fields = [];
      this._count = 0;
      layout.set("topics.open", name);
      $("#publish-section").open = false;
      $("#publish-fields").replaceChildren();
      $("#publish-result").textContent = "";
      $("#topic-name").textContent = name;
      $("#topic-type").textContent = topic.type;
      $("#topic-message").replaceChildren(h("span", { class: "text-body-secondary" }, "waiting for a message…"));
      $("#plot-field").replaceChildren(h("option", { value: "" }, "numeric field…"));
      for (const item of document.querySelectorAll("#topics-list [data-topic]")) {
        item.classList.toggle("active", item.dataset.topic === name);
      }
    }
    $("#topic-empty").hidden = true;
    $("#topic-body").hidden = false;
    this._subscribeDetail();
    this._updateRates();
    if (scroll && window.matchMedia("(max-width: 991px)").matches) {
      $("#topic-detail").scrollIntoView({ behavior: "smooth", block: "start" });
    }
  }

  _unsubscribeDetail() {
    this._offDetail?.();
    this._offDetail = null;
    $("#topic-image").src = BLANK; // closes an image stream
  }

  _subscribeDetail() {
    this._unsubscribeDetail();
    const name = this.selected;
    const image = IMAGES.has((this.type || "").replace("/msg/", "/"));
    $("#topic-picture").hidden = !image;
    $("#topic-scan").hidden = baseType(this.type) !== "sensor_msgs/LaserScan";
    $("#topic-latest").hidden = image;
    $("#topic-plot").hidden = image;
    $("#topic-view-kind").textContent = image ? "Picture (MJPEG stream)" : "Latest message";
    if (image) {
      // the picture, as a stream the server encodes once for every viewer: no raw frames here
      $("#topic-image").src = streamUrl(name);
      this.rates.poll();
      return;
    }
    const heavy = HEAVY_TYPES.has((this.type || "").replace("/msg/", "/"));
    this._offDetail = this.ros.subscribe(name, (msg) => this._onMessage(msg), {
      type: this.type,
      throttle_rate: heavy ? 2000 : VIEW_MS,
      queue_length: 1,
    });
  }

  _onMessage(msg) {
    const now = performance.now();
    this._count += 1;
    if (!this._fields.length) {
      this._fields = numericPaths(msg);
      $("#plot-field").replaceChildren(
        h("option", { value: "" }, this._fields.length ? "numeric field…" : "no numeric field"),
        ...this._fields.map((path) => h("option", { value: path }, path)),
      );
    }
    if (this.paused || now - this._lastView < VIEW_MS * 0.8) return;
    this._lastView = now;
    this.last = msg;
    this.tree.render(msg);
    if (baseType(this.type) === "sensor_msgs/LaserScan") drawScan($("#topic-scan canvas"), msg);
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
