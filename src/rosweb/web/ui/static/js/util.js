// Small helpers of the page: the REST client, formatting, DOM and toasts.

const CONFIG = JSON.parse(document.getElementById("rosweb-config")?.textContent || "{}");

/** Server facts from the page: root (SCRIPT_NAME), bridge (WebSocket path), camera_width; who
 * is logged in (user, role, auth: whether authentication is on), the CSRF token of the login
 * session (empty without one) and the control state when the page was served. */
export const config = {
  root: "",
  bridge: "/ws",
  camera_width: 640,
  user: "anonymous",
  role: "admin",
  auth: false,
  csrf_token: "",
  control: null,
  ...CONFIG,
};

const ROLES = { viewer: 1, operator: 2, admin: 3 };

/** The page's user has at least `role` (viewer < operator < admin). */
export function atLeast(role) {
  return (ROLES[config.role] || 0) >= ROLES[role];
}

const TAB_KEY = "rosweb.tab";
const TAB_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

function newTabId() {
  const bytes = crypto.getRandomValues(new Uint8Array(9)); // also on plain http (randomUUID is not)
  return `tab-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** This tab's client id: one operator for the control lease, over REST (X-Rosweb-Client) and the
 * WebSocket (?client=). Kept in sessionStorage, so a reload keeps it and another tab has its own. */
export const tabId = (() => {
  try {
    let id = sessionStorage.getItem(TAB_KEY);
    if (!id || !TAB_ID.test(id)) {
      id = newTabId();
      sessionStorage.setItem(TAB_KEY, id);
    }
    return id;
  } catch {
    return newTabId(); // storage refused: one id for this page's life
  }
})();

/** A REST error with rosweb's error shape: status, code, message, field (and holder, for a
 * refusal because someone else holds the control lease). */
export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = error?.code || "http_error";
    this.field = error?.field;
    this.holder = error?.holder;
  }
}

/** A path of the API for a ROS name: ("topics", "/camera/image_raw") -> /api/topics/camera/image_raw */
export function apiPath(kind, name = "") {
  const rest = name ? `/${name.replace(/^\/+/, "").split("/").map(encodeURIComponent).join("/")}` : "";
  return `${config.root}/api/${kind}${rest}`;
}

/**
 * Fetch JSON from the API; throws ApiError for an error answer, TypeError when offline.
 * Every request names this tab (X-Rosweb-Client); writes carry the login session's CSRF token.
 * @param {string} path  from apiPath()
 * @param {{method?: string, body?: any, keepalive?: boolean, query?: object}} options
 */
export async function api(path, { method = "GET", body, keepalive = false, query } = {}) {
  const url = query ? `${path}?${new URLSearchParams(query)}` : path;
  const headers = { Accept: "application/json", "X-Rosweb-Client": tabId };
  if (!["GET", "HEAD"].includes(method) && config.csrf_token) {
    headers["X-CSRF-Token"] = config.csrf_token;
  }
  const init = { method, keepalive, headers };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) throw new ApiError(response.status, data?.error);
  return data;
}

/** A type name in its short form: ROS 2's `nav_msgs/msg/Odometry` is `nav_msgs/Odometry`. */
export function baseType(type) {
  return (type || "").replace("/msg/", "/");
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function $$(selector, root = document) {
  return [...root.querySelectorAll(selector)];
}

/** An element: h("div", {class: "x", dataset: {a: 1}}, "text", child) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** A number with `digits` decimals, or a dash. */
export function fmt(value, digits = 2) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "–";
}

export function fmtRate(hz) {
  if (!hz) return "–";
  return hz >= 10 ? `${hz.toFixed(0)} Hz` : `${hz.toFixed(1)} Hz`;
}

export function fmtBytes(n) {
  if (n < 1024) return `${n.toFixed(0)} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** The yaw (rad) of a quaternion {x, y, z, w}. */
export function yaw(q) {
  if (!q) return 0;
  return Math.atan2(2 * (q.w * q.z + q.x * q.y), 1 - 2 * (q.y * q.y + q.z * q.z));
}

/** Why this page's user may not do something that needs `role` ("" if they may). */
export function roleReason(role, what = "this") {
  return atLeast(role) ? "" : `${what} needs role ${role} (you are ${config.role})`;
}

/** Disable a control the role may not use, and say why (its title, and `hint` when given). */
export function disableFor(role, el, what, hint) {
  const why = roleReason(role, what);
  if (!why || !el) return why;
  el.disabled = true;
  el.setAttribute("aria-disabled", "true");
  el.title = why;
  el.dataset.roleDisabled = role;
  if (hint) {
    hint.textContent = why;
    hint.hidden = false;
  }
  return why;
}

/** What this browser remembers of the dashboard (plotted series, open topic, filters...). */
export const layout = {
  get(key, fallback) {
    try {
      const text = localStorage.getItem(`rosweb.layout.${key}`);
      return text === null ? fallback : JSON.parse(text);
    } catch {
      return fallback;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(`rosweb.layout.${key}`, JSON.stringify(value));
    } catch {
      /* storage full or refused: the layout is not kept */
    }
  },
};

/** "4 s ago", "3 min ago". */
export function fmtAge(seconds) {
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 90) return `${Math.max(0, Math.round(seconds))} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

const toasts = new Map(); // key -> element: one toast per key (a new one replaces it)

/** A short-lived message at the bottom of the page (level: success, danger, warning, info).
 * With a `key`, it replaces the toast of that key still shown (no pile of identical ones). */
export function toast(text, level = "info", { key } = {}) {
  const box = document.getElementById("toasts");
  if (!box) return;
  if (key && toasts.has(key)) {
    toasts.get(key).remove();
    toasts.delete(key);
  }
  const el = h(
    "div",
    { class: `toast align-items-center text-bg-${level} border-0`, role: "status" },
    h("div", { class: "d-flex" }, h("div", { class: "toast-body" }, text),
      h("button", { type: "button", class: "btn-close btn-close-white me-2 m-auto", "data-bs-dismiss": "toast", "aria-label": "close" })),
  );
  box.append(el);
  if (key) {
    el.dataset.key = key;
    toasts.set(key, el);
  }
  const forget = () => {
    el.remove();
    if (key && toasts.get(key) === el) toasts.delete(key);
  };
  const Toast = window.bootstrap?.Toast;
  if (Toast) {
    el.addEventListener("hidden.bs.toast", forget);
    new Toast(el, { delay: 4000 }).show();
  } else {
    el.classList.add("show");
    setTimeout(forget, 4000);
  }
}

/** The value at a path like "pose.pose.position.x" or "ranges[3]" of a message. */
export function getPath(msg, path) {
  let value = msg;
  for (const part of path.split(/\.|\[|\]/).filter(Boolean)) {
    if (value === null || value === undefined) return undefined;
    value = value[part];
  }
  return value;
}

/**
 * Paths of the numeric (and boolean) leaves of a message, for plotting; arrays longer than
 * `maxArray` (images, scans, covariances) are left out.
 */
export function numericPaths(msg, prefix = "", out = [], maxArray = 9) {
  if (typeof msg === "number" || typeof msg === "boolean") {
    out.push(prefix);
  } else if (Array.isArray(msg)) {
    if (msg.length <= maxArray) msg.forEach((v, i) => numericPaths(v, `${prefix}[${i}]`, out, maxArray));
  } else if (msg && typeof msg === "object") {
    for (const [key, value] of Object.entries(msg)) {
      numericPaths(value, prefix ? `${prefix}.${key}` : key, out, maxArray);
    }
  }
  return out;
}

/** A copy of a message fit for display: long arrays and strings (base64 images) shortened. */
export function abridge(msg, maxArray = 24, maxString = 160) {
  if (typeof msg === "string") {
    return msg.length > maxString ? `${msg.slice(0, 48)}… (${msg.length} characters)` : msg;
  }
  if (Array.isArray(msg)) {
    const head = msg.slice(0, maxArray).map((v) => abridge(v, maxArray, maxString));
    if (msg.length > maxArray) head.push(`… ${msg.length - maxArray} more (${msg.length} in all)`);
    return head;
  }
  if (msg && typeof msg === "object") {
    const out = {};
    for (const [key, value] of Object.entries(msg)) out[key] = abridge(value, maxArray, maxString);
    return out;
  }
  return msg;
}
