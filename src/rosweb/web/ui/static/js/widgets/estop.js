// The e-stop macro: the latch lives on the robot (POST /api/estop: any logged-in user; DELETE
// clears it: operators), so every page of every user shows it and the server refuses motion until
// it is cleared. Pressing it also stops from this page at once, before the server answers.

import { atLeast, toast } from "../util.js";
import { getEStop, widgets } from "./page.js";

const estop = getEStop();
const found = widgets("estop");

function render(el) {
  const on = estop.engaged;
  el.dataset.state = on ? "engaged" : "clear";
  el.querySelector(".rw-estop-text").textContent = on
    ? `E-stop engaged${estop.by ? ` by ${estop.by}` : ""}${estop.pending ? " (not confirmed yet)" : ""}`
    : "";
  const clear = el.querySelector(".rw-estop-clear");
  clear.hidden = !on;
  clear.disabled = !atLeast("operator");
  el.querySelector(".rw-estop-button").setAttribute("aria-pressed", String(on));
}

for (const el of found) {
  el.querySelector(".rw-estop-button").addEventListener("click", () => estop.engage());
  el.querySelector(".rw-estop-clear").addEventListener("click", async () => {
    try {
      await estop.clear();
    } catch (err) {
      el.querySelector(".rw-estop-text").textContent = `The e-stop stays engaged: ${err.message}`;
      toast(err.message, "danger");
    }
  });
  render(el);
}
estop.addEventListener("change", () => found.forEach(render));
