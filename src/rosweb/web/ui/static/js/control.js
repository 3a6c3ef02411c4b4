// Who drives, and the e-stop, as the server sees them: the control lease (one operator at a time)
// and the e-stop latch, polled from GET /api/control, changed with POST/DELETE /api/control and
// /api/estop. This tab is one operator: its user and its tab id (util.js `tabId`), the same over
// REST and the WebSocket.

import { ApiError, api, apiPath, atLeast, config, tabId } from "./util.js";

const POLL_MS = 1000;
const HIDDEN_POLL_MS = 5000; // a hidden tab still learns of an e-stop, less often

export class Control extends EventTarget {
  constructor() {
    super();
    /** The server's answer: {holder, user, since, expires_in, ttl, estop: {by, since} | null, moving} */
    this.state = config.control;
    // the lease holder's key when it is this tab (without users, every client is "anonymous")
    this.me = config.operator || `${config.user}/${tabId}`;
    this.offline = false;
    this._timer = null;
    this._polling = false;
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.poll();
    });
  }

  /** Poll now, then every second (every 5 s while the tab is hidden). */
  start() {
    this.poll();
  }

  async poll() {
    clearTimeout(this._timer);
    if (!this._polling) {
      this._polling = true;
      try {
        this._set(await api(apiPath("control")));
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) {
          loginAgain();
          return;
        }
        if (!this.offline) {
          this.offline = true;
          this._emit();
        }
      } finally {
        this._polling = false;
      }
    }
    const delay = document.visibilityState === "hidden" ? HIDDEN_POLL_MS : POLL_MS;
    this._timer = setTimeout(() => this.poll(), delay);
  }

  // -- what the page shows ------------------------------------------------------------------------

  /** This tab holds the lease. */
  get mine() {
    return this.state?.holder === this.me;
  }

  /** Someone else (another user, or this user's other tab or script) holds the lease. */
  get taken() {
    return Boolean(this.state?.holder) && !this.mine;
  }

  /** "You are driving", "alice is driving", "Nobody is driving". */
  describe() {
    const state = this.state;
    if (!state?.holder) return "Nobody is driving";
    if (this.mine) return "You are driving";
    if (state.user === config.user) {
      return config.auth ? "You are driving in another tab" : "Another tab or client is driving";
    }
    return `${state.user} is driving`;
  }

  /** The e-stop latch on the robot ({by, since}), or null. */
  get estop() {
    return this.state?.estop || null;
  }

  /** Why this tab may not drive now ("" if it may). */
  refusal() {
    if (!atLeast("operator")) return `your role (${config.role}) cannot drive`;
    if (this.estop) return `the e-stop is engaged (by ${this.estop.by})`;
    if (this.taken) return this.describe();
    return "";
  }

  // -- what the page asks -------------------------------------------------------------------------

  /** Take the lease (`force`: take it over, admins only); throws ApiError (409 names the holder). */
  async acquire(force = false) {
    return this._set(await api(apiPath("control"), { method: "POST", body: force ? { force } : {} }));
  }

  async release() {
    return this._set(await api(apiPath("control"), { method: "DELETE" }));
  }

  async engageEstop({ keepalive = false } = {}) {
    return this._set(await api(apiPath("estop"), { method: "POST", keepalive }));
  }

  async clearEstop() {
    return this._set(await api(apiPath("estop"), { method: "DELETE" }));
  }

  _set(state) {
    const { released, ...rest } = state || {};
    this.state = rest;
    this.offline = false;
    this._emit();
    return this.state;
  }

  _emit() {
    this.dispatchEvent(new CustomEvent("change", { detail: this.state }));
  }
}

let leaving = false; // logging out: the 401s of requests still on their way are expected

/** The login session is gone (expired, logged out in another tab): back to the login page. */
export function loginAgain() {
  if (leaving) return; // logout() goes to the login page itself, without a ?next
  const next = window.location.pathname + window.location.search + window.location.hash;
  window.location.assign(`${config.root}/login?next=${encodeURIComponent(next)}`);
}

/** Log out: POST /logout (with the CSRF header), then the login page. */
export async function logout() {
  leaving = true;
  try {
    await api(`${config.root}/logout`, { method: "POST", body: {} });
  } finally {
    window.location.assign(`${config.root}/login`);
  }
}
