// The e-stop, on the client side: once engaged it stops the robot, keeps sending stops and makes
// the page refuse motion until it is cleared explicitly. The latch is kept in localStorage, so a
// reload or another tab of this browser stays stopped too.

const KEY = "rosweb.estop";
const REPEAT_MS = 200; // zero Twists while engaged
const REST_EVERY = 5; // ... and a REST stop every 5th time (also works without the WebSocket)

export class EStop extends EventTarget {
  /** @param {{stop: (opts?: object) => void}} drive  what sends the stops */
  constructor(drive) {
    super();
    this.drive = drive;
    this.engaged = false;
    this._timer = null;
    this._ticks = 0;
    window.addEventListener("storage", (event) => {
      if (event.key !== KEY) return;
      if (event.newValue === "1") this.engage({ store: false });
      else this.clear({ store: false });
    });
    if (localStorage.getItem(KEY) === "1") this.engage({ store: false });
  }

  engage({ store = true } = {}) {
    if (store) localStorage.setItem(KEY, "1");
    if (this.engaged) {
      this.drive.stop({ rest: true });
      return;
    }
    this.engaged = true;
    this.drive.releaseAll("e-stop");
    this.drive.stop({ rest: true });
    this._ticks = 0;
    this._timer = setInterval(() => {
      this._ticks += 1;
      this.drive.stop({ rest: this._ticks % REST_EVERY === 0 });
    }, REPEAT_MS);
    this.dispatchEvent(new CustomEvent("change", { detail: true }));
  }

  clear({ store = true } = {}) {
    if (store) localStorage.removeItem(KEY);
    if (!this.engaged) return;
    this.engaged = false;
    clearInterval(this._timer);
    this.dispatchEvent(new CustomEvent("change", { detail: false }));
  }
}
