// The e-stop. The latch lives on the robot (POST /api/estop, any logged-in user; DELETE clears it,
// operators only), so every open page of every user shows it and the server refuses motion until
// it is cleared. Pressing it here also stops at once from this page (zero Twists, before the
// server has answered) and, while the server has not confirmed the latch (no connection), this
// page keeps sending stops, refuses motion and retries the POST.

import { toast } from "./util.js";

const REPEAT_MS = 200; // zero Twists while pressed here and not yet confirmed
const RETRY_EVERY = 5; // ... and, every 5th time, a REST stop and the POST again
const OLD_KEY = "rosweb.estop"; // the former client-side latch

export class EStop extends EventTarget {
  /**
   * @param {import("./drive.js").Drive} drive  what sends the stops
   * @param {import("./control.js").Control} control  the server's state
   */
  constructor(drive, control) {
    super();
    this.drive = drive;
    this.control = control;
    this.pending = false; // pressed here, the server has not confirmed it yet
    this._timer = null;
    this._ticks = 0;
    this._was = this.engaged;
    localStorage.removeItem(OLD_KEY);
    control.addEventListener("change", () => this._changed());
  }

  /** Engaged on the robot, or pressed here and not yet confirmed. */
  get engaged() {
    return this.pending || Boolean(this.control.estop);
  }

  /** Who engaged it (the server's word), when known. */
  get by() {
    return this.control.estop?.by || "";
  }

  async engage() {
    this.drive.releaseAll("e-stop");
    this.drive.stop({ rest: true });
    if (!this.pending) {
      this.pending = true;
      this._ticks = 0;
      clearInterval(this._timer);
      this._timer = setInterval(() => this._repeat(), REPEAT_MS);
      this._changed();
    }
    await this._confirm();
  }

  /** Clear the latch on the robot; throws ApiError (403 for a viewer). */
  async clear() {
    await this.control.clearEstop();
    this._settle();
    this._changed();
  }

  async _confirm() {
    try {
      await this.control.engageEstop();
      this._settle();
    } catch (err) {
      if (this._ticks === 0) toast(`E-stop not confirmed by the robot (${err.message}): retrying`, "danger");
    }
    this._changed();
  }

  _repeat() {
    this._ticks += 1;
    const retry = this._ticks % RETRY_EVERY === 0;
    this.drive.stop({ rest: retry });
    if (retry) this._confirm();
  }

  _settle() {
    this.pending = false;
    clearInterval(this._timer);
    this._timer = null;
  }

  _changed() {
    const engaged = this.engaged;
    if (engaged && !this._was) this.drive.releaseAll("e-stop");
    this._was = engaged;
    this.dispatchEvent(new CustomEvent("change", { detail: engaged }));
  }
}
