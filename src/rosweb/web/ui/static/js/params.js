// The Parameters tab: the controls rendered by the Jinja macros (templates/rosweb/_macros.html)
// are bound to GET/PUT /api/params/<name> as properties. A control shows the robot's value: it is
// polled while the tab is open, and a refused value (422) reverts with the server's message.

import { $, api, apiPath, config, disableFor } from "./util.js";

const POLL_MS = 2000;
const SLIDE_PUT_MS = 250; // while a slider moves, at most one PUT per this many ms

function parse(el, input) {
  const kind = el.dataset.kind;
  if (kind === "checkbox") return input.checked;
  if (kind === "slider" || kind === "number") {
    const value = Number(input.value);
    if (input.value.trim() === "" || !Number.isFinite(value)) throw new Error("expects a number");
    if (el.dataset.type === "int" && !Number.isInteger(value)) throw new Error("expects an integer");
    return value;
  }
  if (kind === "json") {
    try {
      return JSON.parse(input.value);
    } catch {
      throw new Error("is not valid JSON");
    }
  }
  return input.value;
}

/** A slider's value with as many decimals as its step (0.05 -> 2). */
function formatted(input, value) {
  const step = input.getAttribute("step");
  if (typeof value !== "number" || !step || step === "any") return String(value);
  return value.toFixed((step.split(".")[1] || "").replace(/0+$/, "").length);
}

function show(el, value) {
  const input = el.querySelector(".param-input");
  const kind = el.dataset.kind;
  if (kind === "checkbox") input.checked = Boolean(value);
  else if (kind === "json") input.value = JSON.stringify(value);
  else input.value = value;
  const readout = el.querySelector(".param-readout");
  if (readout) readout.textContent = formatted(input, value);
  el.dataset.value = JSON.stringify(value);
}

function status(el, text, level) {
  const badge = el.querySelector(".param-status");
  badge.textContent = text;
  badge.className = `param-status small text-${level}`;
  clearTimeout(el._statusTimer);
  if (level === "success") el._statusTimer = setTimeout(() => (badge.textContent = ""), 1500);
}

export class ParamsPage {
  constructor(root) {
    this.root = root;
    this.visible = false;
    this._timer = null;
    this.bind();
    $("#params-reload").addEventListener("click", () => this.reload());
  }

  show() {
    this.visible = true;
    this.poll();
    clearInterval(this._timer);
    this._timer = setInterval(() => this.poll(), POLL_MS);
  }

  hide() {
    this.visible = false;
    clearInterval(this._timer);
  }

  /** Render the controls again on the server (new parameters, new metadata). */
  async reload() {
    const response = await fetch(`${config.root}/ui/params`);
    if (!response.ok) return;
    this.root.innerHTML = await response.text();
    this.bind();
    this.poll();
  }

  bind() {
    for (const el of this.root.querySelectorAll("[data-param]")) {
      if (el._bound) continue;
      el._bound = true;
      const input = el.querySelector(".param-input");
      // a viewer reads the values (they stay live) but the controls say they cannot change them
      if (disableFor("operator", input, "changing parameters")) {
        disableFor("operator", el.querySelector(".param-apply"), "changing parameters");
        el.classList.add("param-readonly");
      }
      el.dataset.value = JSON.stringify(parse(el, input));
      const kind = el.dataset.kind;
      if (kind === "slider") {
        el.querySelector(".param-readout").textContent = formatted(input, Number(input.value));
        let last = 0;
        let timer = null;
        input.addEventListener("input", () => {
          el.querySelector(".param-readout").textContent = formatted(input, Number(input.value));
          el._editing = true;
          clearTimeout(timer);
          const wait = SLIDE_PUT_MS - (performance.now() - last);
          timer = setTimeout(() => {
            last = performance.now();
            this.put(el);
          }, Math.max(0, wait));
        });
        input.addEventListener("change", () => {
          clearTimeout(timer);
          el._editing = false;
          this.put(el);
        });
      } else if (kind === "checkbox") {
        input.addEventListener("change", () => this.put(el));
      } else {
        input.addEventListener("focus", () => (el._editing = true));
        input.addEventListener("blur", () => (el._editing = false));
        input.addEventListener("keydown", (event) => {
          if (event.key === "Enter") {
            event.preventDefault();
            this.put(el);
          } else if (event.key === "Escape") {
            show(el, JSON.parse(el.dataset.value));
          }
        });
        el.querySelector(".param-apply")?.addEventListener("click", () => this.put(el));
      }
    }
  }

  /** PUT the control's value. One request at a time per parameter, so that they cannot
   * overtake each other: a change made meanwhile is sent when the current one is answered. */
  async put(el) {
    if (el._pending) {
      el._queued = true;
      return;
    }
    const name = el.dataset.param;
    const input = el.querySelector(".param-input");
    let value;
    try {
      value = parse(el, input);
    } catch (err) {
      this._error(el, err.message);
      return;
    }
    el._pending = true;
    status(el, "saving…", "body-secondary");
    try {
      const stored = await api(apiPath("params", name), { method: "PUT", body: value });
      input.classList.remove("is-invalid");
      el.dataset.value = JSON.stringify(stored);
      if (!el._editing && !el._queued) show(el, stored);
      status(el, "saved", "success");
    } catch (err) {
      this._error(el, err.message);
      try {
        show(el, await api(apiPath("params", name))); // back to what the robot has
      } catch {
        /* gone: the next reload drops it */
      }
    } finally {
      el._pending = false;
    }
    if (el._queued) {
      el._queued = false;
      await this.put(el);
    }
  }

  _error(el, message) {
    el.querySelector(".param-input").classList.add("is-invalid");
    const feedback = el.querySelector(".param-error");
    if (feedback) feedback.textContent = message;
    status(el, "refused", "danger");
  }

  async poll() {
    if (!this.visible) return;
    for (const el of this.root.querySelectorAll("[data-param]")) {
      if (el._editing || el._pending) continue; // text fields: _editing while focused
      try {
        const value = await api(apiPath("params", el.dataset.param));
        if (!el._editing && !el._pending) show(el, value);
        el.classList.remove("param-missing");
      } catch (err) {
        if (err.status === 404) el.classList.add("param-missing");
      }
    }
  }
}
