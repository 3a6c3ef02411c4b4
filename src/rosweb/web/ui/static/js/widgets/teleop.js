// The teleop pad macro: the pad, joystick, keyboard and gamepad of the Drive tab (drive.js) on the
// page's shared Drive: a held control repeats its Twist every 100 ms; letting go, leaving the
// window, hiding the tab and losing the WebSocket send a stop at once; the server's deadman stops
// the robot anyway. Motion refused (the e-stop, someone else's lease, the role) is said.

import { bindGamepad, bindJoystick, bindKeyboard, bindPad } from "../drive.js";
import { atLeast, config } from "../util.js";
import { getControl, getDrive, getEStop, widgets } from "./page.js";

const drive = getDrive();
const control = getControl();
const estop = getEStop();
const found = widgets("teleop");
const canDrive = atLeast("operator");

function render(el) {
  const hint = el.querySelector(".rw-teleop-hint");
  let text = "";
  if (!canDrive) text = `Your role (${config.role}) can watch the robot but not drive it.`;
  else if (estop.engaged) text = estop.by ? `The e-stop is engaged (by ${estop.by}).` : "The e-stop is engaged.";
  else if (drive.refusal) text = `Refused: ${drive.refusal}`;
  else if (control.taken) text = control.describe();
  hint.hidden = !text;
  hint.textContent = text;
  el.toggleAttribute("data-estop", estop.engaged);
  el.toggleAttribute("data-disabled", !canDrive);
  const badge = el.querySelector(".rw-teleop-state");
  badge.textContent = drive.state;
  badge.dataset.state = drive.state;
  badge.className = `badge rw-teleop-state text-bg-${drive.state === "driving" ? "success" : "secondary"}`;
  const readout = el.querySelector(".rw-teleop-speed-readout");
  if (readout) readout.textContent = `${Math.round(drive.speed * 100)}%`;
}

let keyboard = false;
for (const el of found) {
  bindPad(el.querySelector(".rw-pad"), drive);
  const stick = el.querySelector(".rw-joystick");
  if (stick) bindJoystick(stick, drive);
  if (el.dataset.keyboard === "true" && !keyboard) {
    keyboard = true;
    const shown = () => document.visibilityState === "visible";
    // keys drive unless a control of the page has the focus (a slider keeps its arrow keys)
    const keys = () => shown() && !document.activeElement?.closest("input, select, textarea, [contenteditable]");
    bindKeyboard(drive, keys);
    bindGamepad(drive, shown, () => {});
  }
  if (el.dataset.speed) drive.setSpeed(Number(el.dataset.speed));
  const speed = el.querySelector(".rw-teleop-speed");
  if (speed) {
    speed.value = String(drive.speed);
    speed.addEventListener("input", () => drive.setSpeed(Number(speed.value)));
  }
  if (!canDrive) for (const button of el.querySelectorAll("button, input")) button.disabled = true;
  render(el);
}

const renderAll = () => found.forEach(render);
drive.addEventListener("change", renderAll);
drive.addEventListener("refused", (event) => {
  renderAll();
  if (event.detail.server) control.poll(); // the server said no: learn who holds the lease
});
control.addEventListener("change", () => {
  if (!control.taken && drive.refusal && !estop.engaged) drive.refusal = ""; // free again
  renderAll();
});
estop.addEventListener("change", renderAll);
