// The camera: an <img> on rosweb's MJPEG stream (GET /stream/<topic>.mjpg), streaming only while
// it is on screen, retrying when the stream fails. Its frame rate comes from the server's count
// (rates.js), never from a subscription to the raw images.

import { config, fmt } from "./util.js";

const BLANK = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";
const RETRY_MS = 3000;
export const IMAGE_TYPES = ["sensor_msgs/Image", "sensor_msgs/CompressedImage"];

export function streamUrl(topic, width = config.camera_width) {
  const path = topic.replace(/^\/+/, "").split("/").map(encodeURIComponent).join("/");
  return `${config.root}/stream/${path}.mjpg?width=${width}`;
}

export class CameraView {
  /**
   * @param {HTMLElement} root  the element of the camera macro ([data-camera])
   * @param {import("./rosweb.js").Ros} ros  to reopen the stream after a reconnection
   * @param {HTMLElement} [rateEl]  where to write the frame rate
   */
  constructor(root, ros, rateEl) {
    this.root = root;
    this.ros = ros;
    this.rateEl = rateEl;
    this.img = root.querySelector("[data-camera-img]");
    this.overlay = root.querySelector("[data-camera-overlay]");
    this.message = root.querySelector("[data-camera-message]");
    this.hud = root.querySelector("[data-camera-hud]");
    this.topic = null;
    this.type = null;
    this.known = false; // whether the topic list came
    this.visible = false;
    this._streaming = false;
    this._retry = null;
    this.img.addEventListener("load", () => {
      if (!this._streaming) return;
      this.root.dataset.state = "live";
      this.overlay.hidden = true;
    });
    this.img.addEventListener("error", () => {
      if (!this._streaming) return;
      this._streaming = false;
      this._setMessage(`no stream from ${this.topic}: retrying`, "error");
      clearTimeout(this._retry);
      this._retry = setTimeout(() => this._start(), RETRY_MS);
    });
    // back from a lost connection (the server may have restarted): open the stream again
    ros.addEventListener("open", () => {
      if (this.visible && (ros.stats.connects > 1 || this.root.dataset.state !== "live")) {
        this._stop();
        this._start();
      }
    });
  }

  /** The topic to show; null when the robot has none (after the topic list came). */
  setTopic(topic, type) {
    this.known = true;
    if (topic === this.topic) return;
    this.topic = topic;
    this.type = type;
    if (this.visible) {
      this._stop();
      this._start();
    }
  }

  show() {
    this.visible = true;
    this._start();
  }

  hide() {
    this.visible = false;
    this._stop();
  }

  _setMessage(text, state) {
    this.root.dataset.state = state;
    this.message.textContent = text;
    this.overlay.hidden = false;
    this.overlay.querySelector(".spinner-border").hidden = state === "error";
  }

  _start() {
    clearTimeout(this._retry);
    if (!this.visible) return;
    if (!this.topic) {
      if (this.known) this._setMessage("this robot has no camera topic", "error");
      return;
    }
    this._setMessage(`connecting to ${this.topic}`, "connecting");
    this._streaming = true;
    this.img.src = streamUrl(this.topic);
  }

  /** Write the frame rate `hz` as the server counts it (called once a second). */
  renderRate(hz) {
    hz = this.visible ? hz : 0;
    if (this.rateEl) this.rateEl.textContent = hz ? `${fmt(hz, 1)} fps` : "–";
  }

  _stop() {
    clearTimeout(this._retry);
    this._streaming = false;
    this.img.src = BLANK; // closes the stream's connection
    this.root.dataset.state = "stopped";
  }
}
