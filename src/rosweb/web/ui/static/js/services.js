// The Services tab: every service; a form generated from the request type; the response.

import { buildForm } from "./forms.js";
import { $, api, apiPath, disableFor, h, roleReason } from "./util.js";

export class ServicesPage {
  constructor() {
    this.services = [];
    this.selected = null;
    this.form = null;
    this.visible = false;
    $("#services-filter").addEventListener("input", () => this._renderList());
    $("#service-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this._call();
    });
  }

  async show(arg) {
    this.visible = true;
    await this.refresh();
    if (arg) await this.select(`/${arg}`);
  }

  navigate(arg) {
    this.select(`/${arg}`);
  }

  hide() {
    this.visible = false;
  }

  async refresh() {
    try {
      ({ services: this.services } = await api(apiPath("services")));
    } catch (err) {
      return;
    }
    this._renderList();
  }

  _renderList() {
    const filter = $("#services-filter").value.trim().toLowerCase();
    const items = this.services
      .filter((s) => !filter || s.name.toLowerCase().includes(filter) || s.type.toLowerCase().includes(filter))
      .map((s) =>
        h(
          "a",
          {
            class: `list-group-item list-group-item-action${s.name === this.selected ? " active" : ""}`,
            href: `#services${s.name}`,
            role: "listitem",
            dataset: { service: s.name },
          },
          h("div", { class: "font-monospace fw-medium text-truncate" }, s.name),
          h("div", { class: "small opacity-75 text-truncate" }, s.type),
        ),
      );
    $("#services-list").replaceChildren(...items);
    $("#services-count").textContent = String(this.services.length);
  }

  async select(name) {
    if (name === this.selected && this.form) return;
    this.selected = name;
    this.form = null;
    for (const item of document.querySelectorAll("#services-list [data-service]")) {
      item.classList.toggle("active", item.dataset.service === name);
    }
    $("#service-empty").hidden = true;
    $("#service-body").hidden = false;
    $("#service-name").textContent = name;
    $("#service-type").textContent = "";
    $("#service-call").disabled = true;
    const response = $("#service-response");
    response.textContent = "–";
    response.dataset.state = "none";
    $("#service-timing").textContent = "";
    const fields = $("#service-fields");
    fields.replaceChildren(h("div", { class: "small text-body-secondary" }, "loading the schema…"));
    try {
      const info = await api(apiPath("services", name));
      if (this.selected !== name) return;
      $("#service-type").textContent = info.type;
      this.form = buildForm(fields, info.schema.request);
      $("#service-call").disabled = false;
      disableFor("operator", $("#service-call"), "calling services", $("#service-hint"));
    } catch (err) {
      fields.replaceChildren(h("div", { class: "text-danger small" }, err.message));
    }
    if (window.matchMedia("(max-width: 991px)").matches) {
      $("#service-detail").scrollIntoView({ behavior: "smooth", block: "start" });
    }
  }

  async _call() {
    if (!this.form || roleReason("operator")) return;
    const name = this.selected;
    const response = $("#service-response");
    const timing = $("#service-timing");
    let request;
    try {
      request = this.form.value();
    } catch (err) {
      timing.textContent = err.message;
      return;
    }
    const button = $("#service-call");
    button.disabled = true;
    response.dataset.state = "pending";
    timing.textContent = "calling…";
    const started = performance.now();
    try {
      const answer = await api(apiPath("services", name), { method: "POST", body: request });
      const values = answer.response;
      response.textContent = JSON.stringify(values, null, 2);
      // std_srvs-like responses say whether it worked
      response.dataset.state = values && values.success === false ? "failed" : "ok";
    } catch (err) {
      response.textContent = `${err.status || ""} ${err.code || "error"}: ${err.message}`;
      response.dataset.state = "error";
      if (err.field) this.form.showError(err.field, err.message);
    } finally {
      button.disabled = false;
      const ms = performance.now() - started;
      timing.textContent = `${new Date().toLocaleTimeString()} · ${ms.toFixed(0)} ms`;
    }
  }
}
