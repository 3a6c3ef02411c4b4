// The page: tabs, the connection, who is logged in, who drives, the e-stop, and the Drive and
// Watch views.

import { CameraView, IMAGE_TYPES } from "./camera.js";
import { Control, logout } from "./control.js";
import { DiagnosticsPanel } from "./diagnostics.js";
import { Drive, bindGamepad, bindJoystick, bindKeyboard, bindPad } from "./drive.js";
import { EStop } from "./estop.js";
import { GraphPanel } from "./graph.js";
import { LogPanel } from "./log.js";
import { MapView } from "./map.js";
import { ParamsPage } from "./params.js";
import { PlotPanel } from "./plot.js";
import { TopicRates } from "./rates.js";
import { Ros, bridgeUrl } from "./rosweb.js";
import { ServicesPage } from "./services.js";
import { Telemetry } from "./telemetry.js";
import { TopicsPage } from "./topics.js";
import { $, $$, api, apiPath, atLeast, config, disableFor, fmt, fmtAge, fmtBytes, h, roleReason, tabId, toast } from "./util.js";

const TABS = ["drive", "watch", "topics", "plot", "log", "diagnostics", "graph", "services", "params"];
const DRIVING_TABS = new Set(["drive", "watch"]);
const CAMERA_KEY = "rosweb.camera";

const canDrive = atLeast("operator");
const ros = new Ros(bridgeUrl(config.bridge, window.location, { client: tabId }));
const control = new Control();
const drive = new Drive(ros, { canDrive });
const estop = new EStop(drive, control);
drive.blocked = () => {
  if (estop.engaged) return estop.by ? `the e-stop is engaged (by ${estop.by})` : "the e-stop is engaged";
  return control.refusal();
};
const telemetry = new Telemetry(ros);
const rates = new TopicRates();
const plot = new PlotPanel(ros, $("#tab-plot"));
const logPanel = new LogPanel(ros, $("#tab-log"));
const diagnostics = new DiagnosticsPanel(ros, $("#tab-diagnostics"));
let current = null;
let topics = [];

// -- driving --------------------------------------------------------------------------------------

const drivingNow = () => DRIVING_TABS.has(current) && document.visibilityState === "visible";
bindPad($("#pad"), drive);
bindJoystick($("#joystick"), drive);
// driving keys belong to the Drive tab (never while typing in a form: drive.js checks)
bindKeyboard(drive, () => current === "drive" && document.visibilityState === "visible");
bindGamepad(drive, drivingNow, (id) => {
  const el = $("#gamepad-state");
  el.hidden = !id;
  el.textContent = id ? `gamepad: ${id.split("(")[0].trim()}` : "";
  $(".keys-hint").hidden = Boolean(id);
});

const speed = $("#speed");
speed.value = String(drive.speed);
speed.addEventListener("input", () => drive.setSpeed(Number(speed.value)));

function renderDrive() {
  const pct = Math.round(drive.speed * 100);
  $("#speed-readout").textContent = `${pct}%`;
  const t = drive.teleop;
  $("#speed-detail").textContent = `${fmt(drive.speed * t.linear_speed)} m/s · ${fmt(drive.speed * t.angular_speed)} rad/s`;
  const badge = $("#drive-state");
  let state = drive.state;
  let text = drive.state;
  if (estop.engaged) {
    state = "estop";
    text = "e-stop";
  } else if (!drive.moving && drive.reason) {
    text = `stopped: ${drive.reason}`;
  }
  badge.dataset.state = state;
  badge.textContent = text;
  badge.className = `badge text-bg-${{ driving: "success", estop: "danger" }[state] || "secondary"}`;
  const last = drive.last;
  $("#drive-twist").textContent = `cmd v ${fmt(last.linear.x)} · ω ${fmt(last.angular.z)}`;
}
drive.addEventListener("change", renderDrive);
drive.addEventListener("refused", (event) => {
  renderHint();
  if (!event.detail.reason) return; // driving works again
  const card = $("#drive-card");
  card.classList.remove("refused");
  void card.offsetWidth; // restart the animation
  card.classList.add("refused");
  if (event.detail.server) control.poll(); // the server said no: learn who holds the lease now
});
drive.load().then(renderDrive);
if (!canDrive) {
  for (const el of $$("#pad .pad-btn, #speed")) el.disabled = true;
  $("#joystick").setAttribute("aria-disabled", "true");
  $("#drive-card").classList.add("drive-disabled");
}

/** Why this page may not drive: the role, or the last refusal (the e-stop has its banner). */
function renderHint() {
  const hint = $("#drive-hint");
  let text = "";
  let level = "warning";
  if (!canDrive) {
    text = `Your role (${config.role}) can watch the robot but not drive it.`;
    level = "secondary";
  } else if (drive.refusal && !estop.engaged) {
    text = `Refused: ${drive.refusal}`;
  }
  hint.hidden = !text;
  hint.textContent = text;
  hint.className = `drive-hint small mb-2 alert alert-${level} py-1 px-2`;
}
renderHint();

// -- who drives: the control lease ----------------------------------------------------------------

let holder = control.state?.holder || null;
function renderLease() {
  const lease = $("#lease");
  const state = control.offline ? "unknown" : control.mine ? "mine" : control.taken ? "taken" : "free";
  lease.dataset.state = state;
  lease.dataset.holder = control.state?.user || "";
  $("#lease-text").textContent = control.offline ? "Who drives: unknown (no answer)" : control.describe();
  $("#lease-acquire").hidden = state === "mine";
  disableFor("operator", $("#lease-acquire"), "taking control");
  $("#lease-release").hidden = state !== "mine";
  $("#lease-takeover").hidden = !(state === "taken" && atLeast("admin"));
  const now = control.state?.holder || null;
  if (now !== holder && drive.refusal) {
    drive.refusal = ""; // someone else drives now, or nobody: the old refusal no longer holds
    renderHint();
  }
  holder = now;
}
control.addEventListener("change", renderLease);
renderLease();

async function leaseAction(action, success) {
  try {
    await action();
    if (success) toast(success, "success");
  } catch (err) {
    toast(err.message, "danger");
    if (err.status === 409) {
      drive.refusal = err.message;
      renderHint();
    }
    control.poll();
  }
}
$("#lease-acquire").addEventListener("click", () => leaseAction(() => control.acquire(), "You have control"));
$("#lease-takeover").addEventListener("click", () => leaseAction(() => control.acquire(true), "You took over control"));
$("#lease-release").addEventListener("click", () => {
  drive.releaseAll("released control");
  leaseAction(() => control.release(), "Control released");
});

// -- who is logged in -----------------------------------------------------------------------------

$("#logout")?.addEventListener("click", async () => {
  drive.releaseAll("logged out");
  if (control.mine) await control.release().catch(() => {});
  await logout();
});

// -- e-stop ---------------------------------------------------------------------------------------

$("#estop").addEventListener("click", () => estop.engage());
$("#estop-clear").addEventListener("click", async () => {
  try {
    await estop.clear();
    toast("E-stop cleared: driving is allowed again", "success");
  } catch (err) {
    toast(`The e-stop stays engaged: ${err.message}`, "danger");
  }
});
function renderEstop() {
  const on = estop.engaged;
  if (!on && drive.refusal.startsWith("the e-stop")) drive.refusal = ""; // cleared
  document.body.classList.toggle("estop-engaged", on);
  $("#estop-banner").hidden = !on;
  $("#estop-by").textContent = estop.by ? ` by ${estop.by}` : "";
  $("#estop-detail").textContent = estop.pending
    ? "Stopping from this page; the robot has not confirmed the latch yet."
    : "The robot is held stopped; driving is refused.";
  const clear = $("#estop-clear");
  clear.disabled = !canDrive;
  clear.title = canDrive ? "" : `clearing the e-stop needs role operator (you are ${config.role})`;
  $("#estop").setAttribute("aria-pressed", String(on));
  $(".estop-label").textContent = on ? "STOPPED" : "E-STOP";
  for (const el of $$("#pad .pad-btn:not(.pad-stop)")) el.setAttribute("aria-disabled", String(on));
  renderDrive();
  renderHint();
}
estop.addEventListener("change", renderEstop);
renderEstop();
control.start();

/** The topic pages may not publish motion while the e-stop is engaged. */
function guard(topic, msg) {
  if (!estop.engaged || topic !== drive.teleop.topic) return null;
  const moving = Object.values(msg.linear || {}).some(Boolean) || Object.values(msg.angular || {}).some(Boolean);
  return moving ? "refused: the e-stop is engaged (clear it first)" : null;
}

// -- live views -----------------------------------------------------------------------------------

/** Send a goal pose (geometry_msgs/PoseStamped on ROSWEB_GOAL_TOPIC) like any publication:
 * the server checks the role and the allow/deny lists; the page also refuses it while the
 * e-stop is engaged. */
async function sendGoal(goal) {
  const why = roleReason("operator", "sending a goal") || (estop.engaged ? "refused: the e-stop is engaged (clear it first)" : "");
  if (why) {
    toast(why, "danger", { key: "goal" });
    return;
  }
  const msg = {
    header: { frame_id: goal.frame },
    pose: { position: { x: goal.x, y: goal.y, z: 0 }, orientation: { x: 0, y: 0, z: Math.sin(goal.theta / 2), w: Math.cos(goal.theta / 2) } },
  };
  try {
    await api(apiPath("topics", config.goal_topic), { method: "POST", body: msg, query: { type: "geometry_msgs/PoseStamped" } });
    toast(`Goal sent to ${config.goal_topic}: x ${fmt(goal.x)} y ${fmt(goal.y)}`, "success", { key: "goal" });
  } catch (err) {
    toast(`Goal refused: ${err.message}`, "danger", { key: "goal" });
  }
}

const maps = {};
for (const canvas of $$("[data-map]")) {
  const card = canvas.closest(".card");
  const view = new MapView(canvas, telemetry, card.querySelector("[data-pose-readout]"), { onGoal: sendGoal });
  maps[canvas.dataset.map] = view;
  card.querySelector("[data-map-clear]").addEventListener("click", () => {
    telemetry.clearPath();
    view.resetView();
  });
  const goal = card.querySelector("[data-map-goal]");
  goal.title = `click and drag on the map: a geometry_msgs/PoseStamped on ${config.goal_topic}`;
  if (!disableFor("operator", goal, "sending a goal")) {
    goal.addEventListener("click", () => {
      view.setGoalMode(!view.goalMode);
      goal.setAttribute("aria-pressed", String(view.goalMode));
      goal.classList.toggle("active", view.goalMode);
    });
  }
}

const cameras = {};
for (const el of $$("[data-camera]")) {
  const card = el.closest(".card");
  cameras[el.dataset.camera] = new CameraView(el, ros, card.querySelector("[data-rate=camera]"));
}
for (const select of $$("[data-camera-topic]")) {
  select.addEventListener("change", () => setCamera(select.value));
}

function setCamera(topic) {
  const found = topics.find((t) => t.name === topic);
  if (!found) return;
  localStorage.setItem(CAMERA_KEY, topic);
  for (const select of $$("[data-camera-topic]")) select.value = topic;
  for (const label of $$("[data-camera-topic-label]")) label.textContent = topic;
  for (const view of Object.values(cameras)) view.setTopic(topic, found.type);
  cameraTopic = topic;
}
let cameraTopic = null;

function renderHud() {
  const p = telemetry.pose;
  if (!p) return;
  const text = `v ${fmt(p.v)} m/s  ω ${fmt(p.w)} rad/s`;
  for (const view of Object.values(cameras)) view.hud.textContent = text;
  const deg = (p.theta * 180) / Math.PI;
  const values = { x: `${fmt(p.x, 3)} m`, y: `${fmt(p.y, 3)} m`, theta: `${fmt(deg, 1)}°`, v: `${fmt(p.v)} m/s`, w: `${fmt(p.w)} rad/s`, distance: `${fmt(telemetry.distance)} m` };
  for (const el of $$("[data-odom]")) el.textContent = values[el.dataset.odom];
}
telemetry.addEventListener("odom", renderHud);

function renderBattery() {
  const b = telemetry.battery;
  if (!b) return;
  const pct = b.percentage === null ? NaN : b.percentage * 100;
  $("#battery-percent").textContent = Number.isFinite(pct) ? `${pct.toFixed(0)}%` : "–";
  const bar = $("#battery-bar");
  bar.style.width = `${Number.isFinite(pct) ? pct : 0}%`;
  bar.className = `progress-bar ${pct > 50 ? "bg-success" : pct > 20 ? "bg-warning" : "bg-danger"}`;
  $("#battery-progress").setAttribute("aria-valuenow", String(Math.round(pct || 0)));
  const STATUS = ["unknown", "charging", "discharging", "not charging", "full"];
  $("#battery-status").textContent = STATUS[b.power_supply_status] || "";
  $("#battery-voltage").textContent = `${fmt(b.voltage)} V`;
  $("#battery-current").textContent = `${fmt(b.current)} A`;
  $("#battery-charge").textContent = b.capacity ? `${fmt(b.charge)} / ${fmt(b.capacity)} Ah` : `${fmt(b.charge)} Ah`;
}
telemetry.addEventListener("battery", renderBattery);

async function loadTopics() {
  try {
    ({ topics } = await api(apiPath("topics")));
  } catch (err) {
    return;
  }
  telemetry.start(topics);
  logPanel.start(topics);
  diagnostics.start(topics);
  const images = topics.filter((t) => IMAGE_TYPES.includes(t.type.replace("/msg/", "/"))).map((t) => t.name);
  for (const select of $$("[data-camera-topic]")) {
    select.replaceChildren(...images.map((name) => h("option", { value: name }, name)));
    select.disabled = images.length < 2;
  }
  const saved = localStorage.getItem(CAMERA_KEY);
  const choice = images.includes(saved) ? saved : images.includes("/camera/image_raw") ? "/camera/image_raw" : images[0];
  if (choice) setCamera(choice);
  else for (const view of Object.values(cameras)) view.setTopic(null, null);
  const table = $("#watch-rates");
  const { odom, scan, battery, tf } = telemetry.topics;
  const shown = [odom, scan, battery, tf, ...(choice ? [choice] : [])].filter(Boolean);
  table.replaceChildren(
    ...shown.map((name) =>
      h(
        "tr",
        {},
        h("td", {}, name),
        h("td", { class: "text-end", dataset: { rate: name === choice ? "camera" : name } }, "–"),
        h("td", { class: "text-end text-body-secondary", dataset: { bandwidth: name } }, ""),
      ),
    ),
  );
}

// -- connection -----------------------------------------------------------------------------------

let rtt = null;
function renderConnection() {
  const badge = $("#connection");
  const state = ros.state;
  badge.dataset.state = state;
  let text = state;
  let level = "warning";
  if (state === "open") {
    text = rtt === null ? "connected" : `connected · ${rtt.toFixed(0)} ms`;
    level = "success";
  } else if (state === "closed") {
    const wait = Math.max(0, Math.ceil((ros.retryAt - Date.now()) / 1000));
    text = `offline · retry ${wait}s`;
    level = "danger";
  }
  badge.className = `badge rounded-pill connection text-bg-${level}`;
  badge.querySelector(".label").textContent = text;
  $("#link-state").textContent = state === "open" ? `open (${ros.stats.connects} connects)` : state;
  $("#link-url").textContent = ros.url;
}
ros.addEventListener("state", renderConnection);
ros.addEventListener("open", () => {
  loadTopics();
  if (ros.stats.connects > 1) toast("Connection to the robot is back", "success", { key: "connection" });
});
let lostToasted = false; // one "lost" toast per outage; the badge keeps the state meanwhile
ros.addEventListener("open", () => (lostToasted = false));
ros.addEventListener("close", () => {
  rtt = null;
  if (ros.stats.connects > 0 && !document.hidden && !lostToasted) {
    lostToasted = true;
    toast("Connection to the robot lost: reconnecting", "danger", { key: "connection" });
  }
});
ros.addEventListener("status", (event) => console.warn("rosweb:", event.detail.msg));

let traffic = { messages: 0, bytes: 0, t: performance.now() };
setInterval(async () => {
  renderConnection();
  const now = performance.now();
  const dt = (now - traffic.t) / 1000;
  const messages = (ros.stats.messages - traffic.messages) / dt;
  const bytes = (ros.stats.bytes - traffic.bytes) / dt;
  traffic = { messages: ros.stats.messages, bytes: ros.stats.bytes, t: now };
  $("#link-traffic").textContent = `${messages.toFixed(0)} msg/s · ${fmtBytes(bytes)}/s`;
  for (const view of Object.values(cameras)) view.renderRate(cameraTopic ? rates.hz(cameraTopic) : 0);
  for (const el of $$("#watch-rates [data-rate]")) {
    const name = el.dataset.rate === "camera" ? cameraTopic : el.dataset.rate;
    el.textContent = rates.text(name);
  }
  for (const el of $$("#watch-rates [data-bandwidth]")) el.textContent = rates.bandwidth(el.dataset.bandwidth);
  renderStale();
  if (ros.connected && !document.hidden) {
    const started = performance.now();
    try {
      await ros.callService("/rosapi/get_time", {}, { timeout: 2 });
      rtt = performance.now() - started;
      $("#link-rtt").textContent = `${rtt.toFixed(1)} ms`;
    } catch {
      rtt = null;
    }
  }
}, 1000);

// -- tabs -----------------------------------------------------------------------------------------

/** Battery and odometry read-outs grey out with their age when their data stops coming. */
function renderStale() {
  for (const [kind, card] of [["battery", "#battery-card"], ["odom", "#odom-card"]]) {
    const stale = telemetry.stale(kind) && telemetry.age(kind) !== Infinity;
    const el = $(card);
    el.classList.toggle("stale", stale);
    el.dataset.stale = String(stale);
    const age = el.querySelector("[data-age]");
    age.textContent = stale ? (ros.connected ? `stale · ${fmtAge(telemetry.age(kind))}` : `offline · ${fmtAge(telemetry.age(kind))}`) : "";
  }
  for (const view of Object.values(maps)) view.invalidate();
}

const pages = {
  drive: {
    show: () => (cameras.drive?.show(), maps.drive?.show(), rates.want("drive")),
    hide: () => (cameras.drive?.hide(), maps.drive?.hide(), rates.release("drive")),
  },
  watch: {
    show: () => (cameras.watch?.show(), maps.watch?.show(), renderBattery(), renderHud(), rates.want("watch")),
    hide: () => (cameras.watch?.hide(), maps.watch?.hide(), rates.release("watch")),
  },
  topics: new TopicsPage(ros, guard, rates, plot),
  plot,
  log: logPanel,
  diagnostics,
  graph: new GraphPanel($("#tab-graph")),
  services: new ServicesPage(),
  params: new ParamsPage($("#params-body")),
};

function route() {
  const hash = decodeURIComponent(window.location.hash.slice(1));
  const slash = hash.indexOf("/");
  let tab = slash < 0 ? hash : hash.slice(0, slash);
  const arg = slash < 0 ? "" : hash.slice(slash + 1);
  if (!TABS.includes(tab)) tab = "drive";
  if (tab !== current) {
    if (current) pages[current].hide();
    if (DRIVING_TABS.has(current) && !DRIVING_TABS.has(tab)) drive.releaseAll("left the drive tab");
    for (const panel of $$("[data-panel]")) panel.hidden = panel.dataset.panel !== tab;
    for (const link of $$("[data-tab]")) {
      const active = link.dataset.tab === tab;
      link.classList.toggle("active", active);
      link.setAttribute("aria-selected", String(active));
    }
    current = tab;
    document.body.dataset.tab = tab;
    pages[tab].show(arg);
  } else if (arg) {
    pages[tab].navigate?.(arg);
  }
}
window.addEventListener("hashchange", route);
route();
renderConnection();

// for the browser console (and tests): the live objects
window.rosweb = { ros, drive, estop, control, telemetry, rates, plot, pages, maps, cameras };
