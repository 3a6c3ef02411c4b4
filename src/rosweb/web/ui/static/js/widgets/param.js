// Parameters and properties in your own page: the slider, checkbox, number, text and select
// macros, bound to GET/PUT /api/params/<name>. A change is PUT at once (a moving slider at most
// every 250 ms, then its last value); a refused value (422) shows the server's reason and the
// control returns to the robot's value; changes made elsewhere show up within 2 s.

import { api, apiPath, atLeast } from "../util.js";
import { status, widgets } from "./page.js";

const POLL_MS = 2000;
const SLIDE_PUT_MS = 250;

function parse(el, input) {
  const kind = el.dataset.kind;
  const type = el.dataset.type;
  if (kind === "checkbox") return input.checked;
  if (kind === "json") {
    try {
      return JSON.parse(input.value);
    } catch {
      throw new Error("is not valid JSON");
    }
  }
  if (type === "int" || type === "float") {
    const value = Number(input.value);
    if (input.value.trim() === "" || !Number.isFinite(value)) throw new Error("expects a number");
    if (type === "int" && !Number.isInteger(value)) throw new Error("expects an integer");
    return value;
  }
  return input.value;
}

function decimals(input) {
  const step = input.getAttribute("step");
  if (!step || step === "any") return null;
  return (step.split(".")[1] || "").replace(/0+$/, "").length;
}

function show(el, value) {
  const input = el.querySelector(".rw-input");
  if (el.dataset.kind === "checkbox") input.checked = Boolean(value);
  else if (el.dataset.kind === "json") input.value = JSON.stringify(value);
  else input.value = value;
  readout(el, value);
  el.dataset.value = JSON.stringify(value);
}

function readout(el, value) {
  const out = el.querySelector(".rw-readout");
  if (!out) return;
  const digits = decimals(el.querySelector(".rw-input"));
  out.textContent = typeof value === "number" && digits !== null ? value.toFixed(digits) : String(value);
}

class ParamWidget {
  constructor(el) {
    this.el = el;
    this.name = el.dataset.name;
    this.input = el.querySelector(".rw-input");
    this.state = el.querySelector(".rw-status");
    this.error = el.querySelector(".rw-error");
    this.editing = false;
    this.pending = false;
    this.queued = false;
    if (el.dataset.missing !== undefined) return;
    if (!atLeast("operator")) {
      this.input.disabled = true;
      for (const button of el.querySelectorAll(".rw-apply")) button.disabled = true;
      this.input.title = "changing it needs role operator";
    }
    try {
      el.dataset.value = JSON.stringify(parse(el, this.input));
    } catch {
      el.dataset.value = "null";
    }
    this.bind();
  }

  bind() {
    const { el, input } = this;
    const kind = el.dataset.kind;
    if (kind === "slider") {
      readout(el, Number(input.value));
      let last = 0;
      let timer = null;
      input.addEventListener("input", () => {
        readout(el, Number(input.value));
        this.editing = true;
        clearTimeout(timer);
        const wait = SLIDE_PUT_MS - (performance.now() - last);
        timer = setTimeout(() => {
          last = performance.now();
          this.put();
        }, Math.max(0, wait));
      });
      input.addEventListener("change", () => {
        clearTimeout(timer);
        this.editing = false;
        this.put();
      });
    } else if (kind === "checkbox" || kind === "select") {
      input.addEventListener("change", () => this.put());
    } else {
      input.addEventListener("focus", () => (this.editing = true));
      input.addEventListener("blur", () => (this.editing = false));
      input.addEventListener("keydown", (event) => {
        if (event.key === "Enter") {
          event.preventDefault();
          this.put();
        } else if (event.key === "Escape") {
          show(el, JSON.parse(el.dataset.value));
        }
      });
      el.querySelector(".rw-apply")?.addEventListener("click", () => this.put());
    }
  }

  /** PUT the control's value; one request at a time, a change made meanwhile goes next. */
  async put() {
    if (this.pending) {
      this.queued = true;
      return;
    }
    let value;
    try {
      value = parse(this.el, this.input);
    } catch (err) {
      this.refused(err.message);
      return;
    }
    this.pending = true;
    status(this.state, "saving…");
    try {
      const stored = await api(apiPath("params", this.name), { method: "PUT", body: value });
      this.input.classList.remove("is-invalid");
      this.error.textContent = "";
      this.el.dataset.value = JSON.stringify(stored);
      if (!this.editing && !this.queued) show(this.el, stored);
      status(this.state, "saved", "success");
    } catch (err) {
      this.refused(err.message);
      try {
        show(this.el, await api(apiPath("params", this.name))); // back to the robot's value
      } catch {
        /* gone */
      }
    } finally {
      this.pending = false;
    }
    if (this.queued) {
      this.queued = false;
      await this.put();
    }
  }

  refused(message) {
    this.input.classList.add("is-invalid");
    this.error.textContent = message;
    status(this.state, "refused", "danger");
  }

  async poll() {
    if (this.editing || this.pending || this.el.dataset.missing !== undefined) return;
    try {
      const value = await api(apiPath("params", this.name));
      if (!this.editing && !this.pending) show(this.el, value);
    } catch {
      /* offline or gone: the next poll tries again */
    }
  }
}

const bound = widgets("param").map((el) => new ParamWidget(el));

async function poll() {
  if (document.visibilityState === "visible") {
    for (const widget of bound) await widget.poll();
  }
  setTimeout(poll, POLL_MS);
}
setTimeout(poll, POLL_MS);
