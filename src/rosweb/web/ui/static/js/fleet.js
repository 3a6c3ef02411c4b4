// The fleet page: a card per robot (online, battery, pose, camera thumbnail, who drives), polled
// from GET /api/robots every second; a click opens the robot's usual tabs (/robots/<name>/).
// STOP ALL is the fleet-wide e-stop (POST /api/estop; DELETE clears it, operators only).

import { $, api, apiPath, atLeast, config, fmt, h, toast } from "./util.js";

const POLL_MS = 1000;
const THUMB_MS = 2000; // a thumbnail is a snapshot, refreshed this often while the robot is online
const cards = new Map(); // name -> {el, thumbAt}

function snapshotUrl(topic) {
  const path = topic.replace(/^\/+/, "").split("/").map(encodeURIComponent).join("/");
  return `${config.root}/snapshot/${path}.jpg?width=160&t=${Date.now()}`;
}

function card(name) {
  let entry = cards.get(name);
  if (entry) return entry;
  const el = h(
    "div", { class: "col" },
    h("a", { class: "card h-100 text-decoration-none robot-card", href: `${config.root}/robots/${encodeURIComponent(name)}/`, dataset: { robot: name } },
      h("div", { class: "ratio ratio-4x3 bg-body-tertiary" },
        h("img", { class: "card-img-top object-fit-cover", alt: `${name} camera`, dataset: { field: "thumb" }, hidden: true })),
      h("div", { class: "card-body" },
        h("div", { class: "d-flex align-items-center gap-2 mb-2" },
          h("h2", { class: "h6 mb-0 text-truncate" }, name),
          h("span", { class: "badge ms-auto", dataset: { field: "online" } }, "…")),
        h("dl", { class: "row small mb-0" },
          h("dt", { class: "col-5 fw-normal text-body-secondary" }, "battery"), h("dd", { class: "col-7 mb-1", dataset: { field: "battery" } }, "–"),
          h("dt", { class: "col-5 fw-normal text-body-secondary" }, "pose"), h("dd", { class: "col-7 mb-1", dataset: { field: "pose" } }, "–"),
          h("dt", { class: "col-5 fw-normal text-body-secondary" }, "who drives"), h("dd", { class: "col-7 mb-0", dataset: { field: "driver" } }, "–")))),
  );
  $("#fleet-cards").append(el);
  entry = { el, thumbAt: 0 };
  cards.set(name, entry);
  return entry;
}

function field(el, name) {
  return el.querySelector(`[data-field=${name}]`);
}

function render(robot) {
  const entry = card(robot.name);
  const { el } = entry;
  const online = field(el, "online");
  online.textContent = robot.online ? (robot.estop ? "e-stop" : robot.moving ? "moving" : "online") : "offline";
  online.className = `badge ms-auto text-bg-${robot.online ? (robot.estop ? "danger" : "success") : "secondary"}`;
  el.querySelector(".robot-card").classList.toggle("opacity-50", !robot.online);
  const pct = robot.battery?.percentage;
  field(el, "battery").textContent = Number.isFinite(pct) ? `${(pct * 100).toFixed(0)}%` : "–";
  const p = robot.pose;
  field(el, "pose").textContent = p ? `${fmt(p.x)}, ${fmt(p.y)} · ${fmt((p.theta * 180) / Math.PI)}°` : "–";
  field(el, "driver").textContent = robot.driver || "nobody";
  const img = field(el, "thumb");
  if (robot.camera && robot.online && Date.now() - entry.thumbAt > THUMB_MS) {
    entry.thumbAt = Date.now();
    const next = new Image();
    next.onload = () => {
      img.src = next.src;
      img.hidden = false;
    };
    next.src = snapshotUrl(robot.camera);
  }
}

function renderEstop(estop) {
  const banner = $("#fleet-estop-banner");
  banner.hidden = !estop;
  $("#fleet-estop-by").textContent = estop?.by ? ` (by ${estop.by})` : "";
  $("#fleet-estop-clear").hidden = !atLeast("operator");
}

async function poll() {
  try {
    const { robots, estop } = await api(apiPath("robots"));
    for (const robot of robots) render(robot);
    for (const [name, entry] of cards) {
      if (!robots.some((r) => r.name === name)) {
        entry.el.remove();
        cards.delete(name);
      }
    }
    const up = robots.filter((r) => r.online).length;
    $("#fleet-summary").textContent = `${up} of ${robots.length} online`;
    $("#fleet-empty").hidden = robots.length > 0;
    renderEstop(estop);
  } catch (err) {
    $("#fleet-summary").textContent = "no answer";
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

$("#fleet-estop").addEventListener("click", async () => {
  try {
    renderEstop((await api(apiPath("estop"), { method: "POST" })).estop);
    toast("Every robot is stopping", "danger");
  } catch (err) {
    toast(`E-stop failed: ${err.message}`, "danger");
  }
});
$("#fleet-estop-clear").addEventListener("click", async () => {
  try {
    renderEstop((await api(apiPath("estop"), { method: "DELETE" })).estop);
  } catch (err) {
    toast(`Clearing failed: ${err.message}`, "warning");
  }
});

poll();
