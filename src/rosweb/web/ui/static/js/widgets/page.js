// What every widget of a page shares (templates/rosweb/macros.html): one WebSocket to the robot,
// one view of the control lease and the e-stop, one Drive (the Twists of the teleop pad and the
// stops of the e-stop). The page's settings come from the JSON the first widget rendered
// (#rosweb-config: who is logged in, the CSRF token of their session, the WebSocket's path), so
// every request and the WebSocket act as the page's user.

import { Control } from "../control.js";
import { Drive } from "../drive.js";
import { EStop } from "../estop.js";
import { Ros, bridgeUrl } from "../rosweb.js";
import { atLeast, config, tabId } from "../util.js";

/** The page's one WebSocket (rosbridge v2): it reconnects by itself. */
export const ros = new Ros(bridgeUrl(config.bridge, window.location, { client: tabId }));

let control = null;
let drive = null;
let estop = null;

/** Who drives and the e-stop, as the server sees them (polled once a second). */
export function getControl() {
  if (!control) {
    control = new Control();
    control.start();
  }
  return control;
}

/** The page's Drive: it repeats a held command every 100 ms and stops when let go. */
export function getDrive() {
  if (!drive) {
    const lease = getControl();
    drive = new Drive(ros, { canDrive: atLeast("operator") });
    estop = new EStop(drive, lease);
    drive.blocked = () => {
      if (estop.engaged) return estop.by ? `the e-stop is engaged (by ${estop.by})` : "the e-stop is engaged";
      return lease.refusal();
    };
    drive.load();
  }
  return drive;
}

/** The e-stop (latched on the robot: POST /api/estop). */
export function getEStop() {
  getDrive();
  return estop;
}

/** The elements of one kind of widget not bound yet (each is bound once). */
export function widgets(kind) {
  const found = [];
  for (const el of document.querySelectorAll(`[data-rw-widget="${kind}"]`)) {
    if (el.dataset.rwBound) continue;
    el.dataset.rwBound = "1";
    found.push(el);
  }
  return found;
}

/** Set an element's status line: text and level (success, danger, secondary). */
export function status(el, text, level = "secondary") {
  if (!el) return;
  el.textContent = text;
  el.className = `${el.className.split(" ").filter((c) => !c.startsWith("text-")).join(" ")} text-${level}`;
}

// for the browser console (and tests): the live objects of the page
window.roswebWidgets = {
  ros,
  get control() {
    return control;
  },
  get drive() {
    return drive;
  },
  get estop() {
    return estop;
  },
};
