// The lease macro: who drives (the control lease: one operator at a time), and buttons to
// request it, give it back, or (admins) take it over. GET/POST/DELETE /api/control.

import { atLeast } from "../util.js";
import { getControl, getDrive, widgets } from "./page.js";

const control = getControl();
const found = widgets("lease");

function render(el) {
  const state = control.offline ? "unknown" : control.mine ? "mine" : control.taken ? "taken" : "free";
  el.dataset.state = state;
  el.dataset.holder = control.state?.user || "";
  el.querySelector(".rw-lease-text").textContent = control.offline ? "Who drives: unknown (no answer)" : control.describe();
  const acquire = el.querySelector(".rw-lease-acquire");
  acquire.hidden = state === "mine";
  acquire.disabled = !atLeast("operator");
  el.querySelector(".rw-lease-release").hidden = state !== "mine";
  el.querySelector(".rw-lease-takeover").hidden = !(state === "taken" && atLeast("admin"));
}

async function act(el, action) {
  const message = el.querySelector(".rw-lease-message");
  try {
    await action();
    message.textContent = "";
  } catch (err) {
    message.textContent = err.message; // a 409 names the holder and how the lease is released
    control.poll();
  }
}

for (const el of found) {
  el.querySelector(".rw-lease-acquire").addEventListener("click", () => act(el, () => control.acquire()));
  el.querySelector(".rw-lease-takeover").addEventListener("click", () => act(el, () => control.acquire(true)));
  el.querySelector(".rw-lease-release").addEventListener("click", () => {
    getDrive().releaseAll("released control");
    act(el, () => control.release());
  });
  render(el);
}
control.addEventListener("change", () => found.forEach(render));
