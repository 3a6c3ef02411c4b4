// rosweb.js: a small client of rosweb's WebSocket, which speaks the rosbridge v2 protocol (JSON).
//
//   import { Ros } from "./rosweb.js";
//   const ros = new Ros("ws://robot:8080/ws");          // connects, and reconnects when dropped
//   const off = ros.subscribe("/odom", (msg) => ..., { throttle_rate: 100 });
//   ros.publish("/cmd_vel", { linear: { x: 0.2 } }, "geometry_msgs/Twist", "drive:1");
//   const values = await ros.callService("/reset", {});
//   ros.addEventListener("open" | "close" | "status", ...);  // status: refusals (with the op's id)
//
// Subscriptions and advertisements survive reconnections. Several callbacks on one topic share
// one server subscription (the smallest throttle_rate); each callback is throttled on its own.
// Messages are rosweb's JSON form: times as {secs, nsecs}, uint8[] as base64, NaN/inf as null.

const CONNECTING = "connecting";
const OPEN = "open";
const CLOSED = "closed";

/** A ROS name with its leading slash ("odom" -> "/odom"). */
export function rosName(name) {
  return name.startsWith("/") ? name : `/${name}`;
}

/** The URL of rosweb's WebSocket for a path on the page's own server (with `query`, e.g.
 * {client: "tab-1"}). The page's login cookie authenticates it: same origin. */
export function bridgeUrl(path = "/ws", base = window.location, query = null) {
  const scheme = base.protocol === "https:" ? "wss:" : "ws:";
  const search = query ? `?${new URLSearchParams(query)}` : "";
  return `${scheme}//${base.host}${path}${search}`;
}

export class Ros extends EventTarget {
  /**
   * @param {string} url  ws:// or wss:// URL of the endpoint
   * @param {{reconnect?: boolean, minDelay?: number, maxDelay?: number}} options  delays in ms
   */
  constructor(url = bridgeUrl(), { reconnect = true, minDelay = 250, maxDelay = 5000 } = {}) {
    super();
    this.url = url;
    this.reconnect = reconnect;
    this.minDelay = minDelay;
    this.maxDelay = maxDelay;
    this.state = CLOSED;
    this.stats = { messages: 0, bytes: 0, connects: 0 };
    this.retryAt = 0; // when the next attempt is due (ms since the epoch), while closed
    this._socket = null;
    this._delay = minDelay;
    this._timer = null;
    this._ids = 0;
    this._subs = new Map(); // topic -> {type, listeners: Set, sid}
    this._adverts = new Map(); // topic -> type
    this._calls = new Map(); // id -> {resolve, reject, timer}
    this._stopped = false;
    this.connect();
  }

  get connected() {
    return this.state === OPEN;
  }

  connect() {
    if (this._socket) return;
    this._stopped = false;
    clearTimeout(this._timer);
    this._setState(CONNECTING);
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (err) {
      this._scheduleReconnect();
      return;
    }
    this._socket = socket;
    socket.onopen = () => {
      this._delay = this.minDelay;
      this.stats.connects += 1;
      this._setState(OPEN);
      for (const [topic, type] of this._adverts) this._send({ op: "advertise", topic, type });
      for (const topic of this._subs.keys()) this._sendSubscribe(topic);
    };
    socket.onmessage = (event) => this._receive(event.data);
    socket.onclose = () => {
      this._socket = null;
      for (const [id, call] of this._calls) {
        clearTimeout(call.timer);
        call.reject(new Error("disconnected"));
        this._calls.delete(id);
      }
      this._setState(CLOSED);
      if (this.reconnect && !this._stopped) this._scheduleReconnect();
    };
    socket.onerror = () => {}; // a close follows
  }

  /** Close for good (no reconnection). */
  close() {
    this._stopped = true;
    clearTimeout(this._timer);
    if (this._socket) this._socket.close();
  }

  /**
   * Call `callback(msg, topic)` for messages on `topic`; returns a function that unsubscribes.
   * @param {{type?: string, throttle_rate?: number, queue_length?: number}} options
   */
  subscribe(topic, callback, { type, throttle_rate = 0, queue_length } = {}) {
    topic = rosName(topic);
    let sub = this._subs.get(topic);
    if (!sub) {
      sub = { type, listeners: new Set(), sid: `subscribe:${topic}:${++this._ids}` };
      this._subs.set(topic, sub);
    }
    const listener = { callback, throttle: throttle_rate, queue_length, last: 0 };
    sub.listeners.add(listener);
    if (type && !sub.type) sub.type = type;
    this._sendSubscribe(topic);
    return () => {
      if (!sub.listeners.delete(listener)) return;
      if (sub.listeners.size === 0) {
        this._subs.delete(topic);
        this._send({ op: "unsubscribe", topic, id: sub.sid });
      } else {
        this._sendSubscribe(topic); // the remaining listeners may want fewer messages
      }
    };
  }

  /** Announce that this client publishes `topic` with `type` (kept across reconnections). */
  advertise(topic, type) {
    topic = rosName(topic);
    if (this._adverts.get(topic) === type) return;
    this._adverts.set(topic, type);
    this._send({ op: "advertise", topic, type });
  }

  /** Publish `msg` on `topic` (advertised with `type` first when given); false if offline.
   * With an `id`, a refusal comes back as a "status" event carrying that id. */
  publish(topic, msg, type, id) {
    topic = rosName(topic);
    if (type) this.advertise(topic, type);
    return this._send(id === undefined ? { op: "publish", topic, msg } : { op: "publish", id, topic, msg });
  }

  /** Call a service; resolves with the response, rejects with the server's message. */
  callService(service, args = {}, { timeout = 10 } = {}) {
    service = rosName(service);
    const id = `call_service:${service}:${++this._ids}`;
    return new Promise((resolve, reject) => {
      if (!this.connected) {
        reject(new Error("not connected"));
        return;
      }
      const timer = setTimeout(() => {
        this._calls.delete(id);
        reject(new Error(`${service}: no response within ${timeout + 1} s`));
      }, (timeout + 1) * 1000);
      this._calls.set(id, { resolve, reject, timer });
      this._send({ op: "call_service", id, service, args, timeout });
    });
  }

  // -- internals ---------------------------------------------------------------------------------

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent(state === OPEN ? "open" : state === CLOSED ? "close" : "connecting"));
    this.dispatchEvent(new CustomEvent("state", { detail: state }));
  }

  _scheduleReconnect() {
    const delay = this._delay * (0.8 + Math.random() * 0.4);
    this._delay = Math.min(this._delay * 2, this.maxDelay);
    this.retryAt = Date.now() + delay;
    this._timer = setTimeout(() => this.connect(), delay);
  }

  _send(message) {
    if (!this._socket || this._socket.readyState !== WebSocket.OPEN) return false;
    this._socket.send(JSON.stringify(message));
    return true;
  }

  _sendSubscribe(topic) {
    const sub = this._subs.get(topic);
    if (!sub) return;
    const listeners = [...sub.listeners];
    const message = {
      op: "subscribe",
      id: sub.sid,
      topic,
      throttle_rate: Math.min(...listeners.map((l) => l.throttle)),
    };
    const lengths = listeners.map((l) => l.queue_length).filter((n) => n !== undefined);
    if (lengths.length) message.queue_length = Math.max(...lengths);
    if (sub.type) message.type = sub.type;
    this._send(message);
  }

  _receive(data) {
    if (typeof data !== "string") return; // we never ask for CBOR
    this.stats.messages += 1;
    this.stats.bytes += data.length;
    let message;
    try {
      message = JSON.parse(data);
    } catch (err) {
      console.warn("rosweb: a frame that is not JSON", err);
      return;
    }
    switch (message.op) {
      case "publish":
        this._dispatch(message.topic, message.msg);
        break;
      case "service_response": {
        const call = this._calls.get(message.id);
        if (!call) break;
        this._calls.delete(message.id);
        clearTimeout(call.timer);
        if (message.result) call.resolve(message.values);
        else call.reject(new Error(typeof message.values === "string" ? message.values : "failed"));
        break;
      }
      case "status":
        if (!(message.id && this._calls.has(message.id))) {
          this.dispatchEvent(new CustomEvent("status", { detail: message }));
        }
        break;
      default:
        break;
    }
  }

  _dispatch(topic, msg) {
    const sub = this._subs.get(rosName(topic));
    if (!sub) return;
    const now = performance.now();
    for (const listener of sub.listeners) {
      // lenient: when this listener set the server's throttle, its messages come just in time
      if (listener.throttle && now - listener.last < listener.throttle * 0.75) continue;
      listener.last = now;
      try {
        listener.callback(msg, topic);
      } catch (err) {
        console.error(`rosweb: a callback of ${topic} failed`, err);
      }
    }
  }
}
