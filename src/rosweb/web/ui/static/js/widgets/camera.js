// The camera macro: an <img> on rosweb's MJPEG stream (GET /stream/<topic>.mjpg), streaming only
// while the page is shown, retrying when the stream fails or the server restarts.

import { config } from "../util.js";
import { ros, widgets } from "./page.js";

const BLANK = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";
const RETRY_MS = 3000;

function streamUrl(el) {
  const path = el.dataset.topic.replace(/^\/+/, "").split("/").map(encodeURIComponent).join("/");
  const query = new URLSearchParams({ width: el.dataset.width || "640" });
  if (el.dataset.quality) query.set("quality", el.dataset.quality);
  return `${config.root}/stream/${path}.mjpg?${query}`;
}

class CameraWidget {
  constructor(el) {
    this.el = el;
    this.img = el.querySelector("img");
    this.message = el.querySelector(".rw-camera-message");
    this.streaming = false;
    this.retry = null;
    this.img.addEventListener("load", () => {
      if (this.streaming) this.el.dataset.state = "live";
    });
    this.img.addEventListener("error", () => {
      if (!this.streaming) return;
      this.stop();
      this.say(`no stream from ${el.dataset.topic}: retrying`, "error");
      this.retry = setTimeout(() => this.start(), RETRY_MS);
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") this.stop();
      else this.start();
    });
    ros.addEventListener("open", () => {
      if (ros.stats.connects > 1) this.start(); // the server may have restarted
    });
    this.start();
  }

  say(text, state) {
    this.el.dataset.state = state;
    this.message.textContent = text;
  }

  start() {
    clearTimeout(this.retry);
    if (document.visibilityState === "hidden") return;
    this.say(`connecting to ${this.el.dataset.topic}`, "connecting");
    this.streaming = true;
    this.img.src = streamUrl(this.el);
  }

  stop() {
    clearTimeout(this.retry);
    this.streaming = false;
    this.img.src = BLANK; // closes the stream's connection
  }
}

for (const el of widgets("camera")) new CameraWidget(el);
