// Driving: inputs (pad, joystick, keyboard, gamepad) -> one Twist, repeated while held.
//
// The server's deadman stops the robot 0.5 s after the last motion command, so a held control
// repeats its Twist every REPEAT_MS; letting go, leaving the page (blur, hidden tab, page hide)
// and losing the WebSocket all send an explicit stop at once.
//
// The server may refuse motion (someone else holds the control lease, the e-stop is engaged, the
// role may not drive): the page refuses it first when it knows (`blocked()`), and a refusal from
// the server (a WebSocket "status" for the drive's publications, or a REST error) lets go of every
// input and says why ("refused" event, `refusal`).

import { ApiError, api, apiPath } from "./util.js";

const TWIST = "geometry_msgs/Twist";
const REPEAT_MS = 100;
const SPEED_KEY = "rosweb.speed";
const PUBLISH_ID = "rosweb-drive"; // the id of the drive's publications: refusals carry it

/** What each direction asks for: [linear, angular] in [-1, 1]. */
export const DIRECTIONS = {
  forward: [1, 0],
  back: [-1, 0],
  left: [0, 1],
  right: [0, -1],
};

function twist(linear, angular) {
  return { linear: { x: linear, y: 0, z: 0 }, angular: { x: 0, y: 0, z: angular } };
}

const clamp = (value) => Math.max(-1, Math.min(1, value));

export class Drive extends EventTarget {
  /**
   * @param {import("./rosweb.js").Ros} ros
   * @param {{canDrive?: boolean}} options  canDrive: the role may publish motion (not a viewer)
   */
  constructor(ros, { canDrive = true } = {}) {
    super();
    this.ros = ros;
    this.canDrive = canDrive;
    this.inputs = new Map(); // source -> [linear, angular], each in [-1, 1]
    this.teleop = { topic: "/cmd_vel", linear_speed: 0.3, angular_speed: 1.0 };
    this.speed = Number(localStorage.getItem(SPEED_KEY)) || 0.5;
    this.blocked = () => ""; // why motion is refused now, as far as the page knows ("" if not)
    this.refusal = ""; // why the last motion was refused ("" once driving works again)
    this.moving = false;
    this.last = twist(0, 0);
    this.stats = { sent: 0, stops: 0, refused: 0 };
    this.state = "idle"; // idle, driving, stopped (why: the last reason for a stop)
    this.reason = "";
    this._timer = setInterval(() => this._tick(), REPEAT_MS);
    this._safety();
  }

  /** Read the teleop settings (topic, speeds) from GET /api/teleop. */
  async load() {
    try {
      this.teleop = await api(apiPath("teleop"));
    } catch (err) {
      console.warn("rosweb: GET /api/teleop failed, using defaults", err);
    }
    this._emit();
  }

  setSpeed(speed) {
    this.speed = Math.max(0.05, Math.min(1, speed));
    localStorage.setItem(SPEED_KEY, String(this.speed));
    this._emit();
  }

  /** An input asks for [linear, angular] (each in [-1, 1]); zero releases it. */
  set(source, linear, angular) {
    if (!linear && !angular) {
      this.release(source);
      return;
    }
    const why = this.canDrive ? this.blocked() : "your role cannot drive";
    if (why) {
      this._refuse(why, { source });
      return;
    }
    this.inputs.set(source, [linear, angular]);
    this._tick();
  }

  release(source) {
    if (this.inputs.delete(source)) this._tick();
  }

  /** Let go of every input and stop at once (blur, hidden tab, disconnect, e-stop, space). */
  releaseAll(reason) {
    const wasMoving = this.moving || this.inputs.size > 0;
    this.inputs.clear();
    this.dispatchEvent(new CustomEvent("release", { detail: reason }));
    if (wasMoving) {
      this.moving = false;
      this.reason = reason;
      this.stop({ rest: true });
    }
    this._emit();
  }

  /** The sum of the inputs, within [-1, 1]. */
  command() {
    let linear = 0;
    let angular = 0;
    for (const [l, a] of this.inputs.values()) {
      linear += l;
      angular += a;
    }
    return [clamp(linear), clamp(angular)];
  }

  /** Send a zero Twist now (WebSocket), and POST /api/teleop stop when `rest` or offline.
   * A stop over REST also reaches the robot when the WebSocket is gone. */
  stop({ rest = false } = {}) {
    if (!this.canDrive) return; // a viewer may not publish (the e-stop is theirs)
    this.stats.stops += 1;
    const zero = twist(0, 0);
    this.last = zero;
    const sent = this.ros.publish(this.teleop.topic, zero, TWIST, PUBLISH_ID);
    if (rest || !sent) {
      // keepalive: the request survives the page being hidden or closed
      api(apiPath("teleop"), { method: "POST", body: { command: "stop" }, keepalive: true }).catch(
        (err) => console.warn("rosweb: stop over REST failed", err),
      );
    }
  }

  _tick() {
    const [linear, angular] = this.command();
    if (linear || angular) {
      const why = this.blocked();
      if (why) {
        this._refuse(why);
        return;
      }
      const message = twist(
        linear * this.speed * this.teleop.linear_speed,
        angular * this.speed * this.teleop.angular_speed,
      );
      this._send(message);
      this.moving = true;
      this.reason = "";
    } else if (this.moving) {
      this.moving = false;
      this.reason = ""; // an ordinary release
      this.stop({ rest: true });
    }
    this._emit();
  }

  _send(message) {
    this.stats.sent += 1;
    this.last = message;
    if (this.refusal) {
      this.refusal = "";
      this.dispatchEvent(new CustomEvent("refused", { detail: { reason: "" } }));
    }
    if (this.ros.publish(this.teleop.topic, message, TWIST, PUBLISH_ID)) return;
    // no WebSocket: the same Twist over REST (clamped and deadman-guarded there too)
    api(apiPath("topics", this.teleop.topic), { method: "POST", body: message }).catch((err) => {
      if (err instanceof ApiError && [403, 409].includes(err.status)) this._refuse(err.message, { server: true });
      else console.warn("rosweb: drive over REST failed", err);
    });
  }

  /** Motion refused (by the page, or by the `server`): let go of every input, say why. */
  _refuse(reason, { source = "", server = false } = {}) {
    this.stats.refused += 1;
    this.refusal = reason;
    if (this.inputs.size || this.moving) this.releaseAll("refused");
    this.dispatchEvent(new CustomEvent("refused", { detail: { reason, source, server } }));
  }

  _emit() {
    const state = this.moving ? "driving" : "idle";
    this.state = state;
    this.dispatchEvent(new CustomEvent("change", { detail: state }));
  }

  _safety() {
    window.addEventListener("blur", () => this.releaseAll("window blur"));
    window.addEventListener("pagehide", () => this.releaseAll("page hidden"));
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") this.releaseAll("tab hidden");
    });
    this.ros.addEventListener("close", () => this.releaseAll("disconnected"));
    this.ros.addEventListener("status", (event) => {
      const { id, level, msg } = event.detail;
      if (id !== PUBLISH_ID || level !== "error") return;
      this._refuse(String(msg).replace(/^publish: /, ""), { server: true });
    });
  }
}

// -- inputs ---------------------------------------------------------------------------------------

/** The on-screen pad: hold a direction button to drive, the square stops. */
export function bindPad(pad, drive) {
  for (const button of pad.querySelectorAll("[data-dir]")) {
    const dir = button.dataset.dir;
    const source = `pad:${dir}`;
    if (dir === "stop") {
      button.addEventListener("pointerdown", (event) => {
        event.preventDefault();
        drive.releaseAll("stop button");
        drive.stop({ rest: true });
      });
      button.addEventListener("click", () => drive.releaseAll("stop button"));
      continue;
    }
    const release = () => {
      button.classList.remove("active");
      drive.release(source);
    };
    button.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      event.preventDefault();
      button.setPointerCapture?.(event.pointerId);
      button.classList.add("active");
      drive.set(source, ...DIRECTIONS[dir]);
      if (!drive.inputs.has(source)) button.classList.remove("active"); // refused
    });
    for (const name of ["pointerup", "pointercancel", "lostpointercapture"]) {
      button.addEventListener(name, release);
    }
    button.addEventListener("contextmenu", (event) => event.preventDefault());
  }
  drive.addEventListener("release", () => {
    for (const button of pad.querySelectorAll(".active")) button.classList.remove("active");
  });
}

/** A virtual joystick: up drives forward, sideways turns; it springs back when let go. */
export function bindJoystick(base, drive) {
  const knob = base.querySelector(".joystick-knob");
  let pointer = null;
  const DEADZONE = 0.08;
  const place = (dx, dy) => {
    knob.style.transform = `translate(calc(-50% + ${dx}px), calc(-50% + ${dy}px))`;
  };
  const center = () => {
    pointer = null;
    base.classList.remove("active");
    place(0, 0);
    drive.release("joystick");
  };
  const move = (event) => {
    const rect = base.getBoundingClientRect();
    const radius = rect.width / 2 - knob.offsetWidth / 4;
    let dx = event.clientX - (rect.left + rect.width / 2);
    let dy = event.clientY - (rect.top + rect.height / 2);
    const length = Math.hypot(dx, dy);
    if (length > radius) {
      dx *= radius / length;
      dy *= radius / length;
    }
    place(dx, dy);
    const dead = (v) => (Math.abs(v) < DEADZONE ? 0 : v);
    drive.set("joystick", dead(-dy / radius), dead(-dx / radius));
  };
  base.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || pointer !== null) return;
    event.preventDefault();
    pointer = event.pointerId;
    base.setPointerCapture?.(event.pointerId);
    base.classList.add("active");
    move(event);
  });
  base.addEventListener("pointermove", (event) => {
    if (event.pointerId === pointer) move(event);
  });
  for (const name of ["pointerup", "pointercancel", "lostpointercapture"]) {
    base.addEventListener(name, (event) => {
      if (event.pointerId === pointer) center();
    });
  }
  base.addEventListener("contextmenu", (event) => event.preventDefault());
  drive.addEventListener("release", () => {
    if (pointer !== null) {
      pointer = null;
      base.classList.remove("active");
      place(0, 0);
    }
  });
}

const KEYS = {
  ArrowUp: "forward",
  KeyW: "forward",
  ArrowDown: "back",
  KeyS: "back",
  ArrowLeft: "left",
  KeyA: "left",
  ArrowRight: "right",
  KeyD: "right",
};

function typing(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target.tagName === "TEXTAREA" || target.tagName === "SELECT") {
    return true;
  }
  return target.tagName === "INPUT" && !["range", "checkbox", "radio", "button"].includes(target.type);
}

/** Arrows and WASD drive (combined: up + left is an arc), space stops; `active()` says when. */
export function bindKeyboard(drive, active) {
  const held = new Set();
  const update = () => {
    let linear = 0;
    let angular = 0;
    for (const dir of held) {
      linear += DIRECTIONS[dir][0];
      angular += DIRECTIONS[dir][1];
    }
    if (linear || angular) drive.set("keyboard", clamp(linear), clamp(angular));
    else drive.release("keyboard");
    if (!drive.inputs.has("keyboard")) held.clear(); // refused (e-stop)
  };
  window.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target) || !active()) return;
    if (event.code === "Space") {
      event.preventDefault();
      held.clear();
      drive.releaseAll("space");
      drive.stop({ rest: true });
      return;
    }
    const dir = KEYS[event.code] || KEYS[event.key];
    if (!dir) return;
    event.preventDefault();
    if (event.repeat && held.has(dir)) return;
    held.add(dir);
    update();
  });
  window.addEventListener("keyup", (event) => {
    const dir = KEYS[event.code] || KEYS[event.key];
    if (event.code === "Space" && active()) event.preventDefault();
    if (!dir || !held.delete(dir)) return;
    event.preventDefault();
    update();
  });
  drive.addEventListener("release", () => held.clear());
}

/** A gamepad's left stick drives (right stick x turns too); button B (1) stops. */
export function bindGamepad(drive, active, onChange) {
  const DEADZONE = 0.15;
  let running = false;
  let stopHeld = false;
  const dead = (v) => (Math.abs(v) < DEADZONE ? 0 : v);
  const poll = () => {
    const pads = [...(navigator.getGamepads?.() || [])].filter(Boolean);
    if (!pads.length) {
      running = false;
      drive.release("gamepad");
      onChange(null);
      return;
    }
    const pad = pads[0];
    if (active()) {
      const linear = -dead(pad.axes[1] || 0);
      const angular = -dead(pad.axes[0] || 0) - dead(pad.axes[2] || 0);
      const stop = Boolean(pad.buttons[1]?.pressed);
      if (stop && !stopHeld) {
        drive.releaseAll("gamepad stop");
        drive.stop({ rest: true });
      }
      stopHeld = stop;
      if (!stop) drive.set("gamepad", clamp(linear), clamp(angular));
    } else {
      drive.release("gamepad");
    }
    requestAnimationFrame(poll);
  };
  window.addEventListener("gamepadconnected", (event) => {
    onChange(event.gamepad.id);
    if (!running) {
      running = true;
      requestAnimationFrame(poll);
    }
  });
  window.addEventListener("gamepaddisconnected", () => onChange(null));
}
