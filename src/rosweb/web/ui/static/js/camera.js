// The camera: WebRTC (POST /api/webrtc/offer) when this browser and the server can, MJPEG (an
// <img> on GET /stream/<topic>.mjpg) otherwise, falling back by itself. The badge in the corner
// says which is in use (and why MJPEG); clicking it switches, remembered in this browser.
// It streams only while on screen and retries when the stream fails. Its frame rate comes from
// the server's count (rates.js), never from a subscription to the raw images.

import { api, apiPath, config, fmt } from "./util.js";

const BLANK = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";
const RETRY_MS = 3000;
const FIRST_FRAME_MS = 8000; // WebRTC must show a frame within this, or MJPEG takes over
const ICE_GATHERING_MS = 3000;
const PREFERENCE_KEY = "rosweb.camera.transport";
export const IMAGE_TYPES = ["sensor_msgs/Image", "sensor_msgs/CompressedImage"];

export function streamUrl(topic, width = config.camera_width) {
  const path = topic.replace(/^\/+/, "").split("/").map(encodeURIComponent).join("/");
  return `${config.root}/stream/${path}.mjpg?width=${width}`;
}

let serverInfo = null; // GET /api/webrtc, asked once per page

/** Why WebRTC cannot be used here (null when it can). */
async function webrtcBlocker() {
  if (!("RTCPeerConnection" in window)) return "this browser has no WebRTC";
  serverInfo ??= api(apiPath("webrtc")).catch((err) => ({ available: false, reason: err.message }));
  const info = await serverInfo;
  return info.available ? null : info.reason || "the server has no WebRTC";
}

function preferred() {
  try {
    return localStorage.getItem(PREFERENCE_KEY) || "webrtc";
  } catch {
    return "webrtc";
  }
}

/** Wait until the connection has gathered its candidates (the server takes no trickle). */
function gathered(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, ICE_GATHERING_MS);
  });
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
    this.video = root.querySelector("[data-camera-video]");
    this.badge = root.querySelector("[data-camera-transport]");
    this.overlay = root.querySelector("[data-camera-overlay]");
    this.message = root.querySelector("[data-camera-message]");
    this.hud = root.querySelector("[data-camera-hud]");
    this.topic = null;
    this.type = null;
    this.known = false; // whether the topic list came
    this.visible = false;
    this.transport = null; // "webrtc" or "mjpeg" while streaming
    this.fallback = null; // why MJPEG is used instead of WebRTC
    this._streaming = false;
    this._retry = null;
    this._pc = null;
    this._session = null;
    this._generation = 0; // bumped by every stop: late answers of an old start are dropped
    this.img.addEventListener("load", () => {
      if (!this._streaming || this.transport !== "mjpeg") return;
      this._live();
    });
    this.img.addEventListener("error", () => {
      if (!this._streaming || this.transport !== "mjpeg") return;
      this._streaming = false;
      this._setMessage(`no stream from ${this.topic}: retrying`, "error");
      clearTimeout(this._retry);
      this._retry = setTimeout(() => this._start(), RETRY_MS);
    });
    this.video.addEventListener("playing", () => {
      if (this._streaming && this.transport === "webrtc") this._live();
    });
    this.badge?.addEventListener("click", () => {
      const next = this.transport === "webrtc" ? "mjpeg" : "webrtc";
      try {
        localStorage.setItem(PREFERENCE_KEY, next);
      } catch {
        /* storage refused: this page only */
      }
      this.fallback = null;
      this._stop();
      this._start();
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
    this.fallback = null;
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

  _live() {
    this.root.dataset.state = "live";
    this.overlay.hidden = true;
  }

  _showTransport(transport) {
    this.transport = transport;
    this.root.dataset.transport = transport;
    this.img.style.display = transport === "mjpeg" ? "" : "none";
    this.video.style.display = transport === "webrtc" ? "" : "none";
    if (!this.badge) return;
    this.badge.hidden = false;
    this.badge.textContent = transport === "webrtc" ? `WebRTC ${this._codec || ""}`.trim() : "MJPEG";
    this.badge.title =
      transport === "mjpeg" && this.fallback
        ? `MJPEG: ${this.fallback} (click to try WebRTC)`
        : `streaming over ${this.badge.textContent} (click to switch)`;
  }

  async _start() {
    clearTimeout(this._retry);
    if (!this.visible) return;
    if (!this.topic) {
      if (this.known) this._setMessage("this robot has no camera topic", "error");
      return;
    }
    this._setMessage(`connecting to ${this.topic}`, "connecting");
    this._streaming = true;
    const generation = this._generation;
    if (preferred() === "webrtc" && !this.fallback) {
      const blocker = await webrtcBlocker();
      if (generation !== this._generation) return;
      if (!blocker) {
        this._startWebrtc(generation);
        return;
      }
      this.fallback = blocker;
    }
    this._startMjpeg();
  }

  _startMjpeg() {
    this._showTransport("mjpeg");
    this.img.src = streamUrl(this.topic);
  }

  /** WebRTC failed: say why (on the badge) and go on with MJPEG. */
  _fallBack(generation, reason) {
    if (generation !== this._generation) return;
    this.fallback = reason;
    this._closePeer();
    if (this._streaming) this._startMjpeg();
  }

  async _startWebrtc(generation) {
    this._codec = "";
    this._showTransport("webrtc");
    const pc = (this._pc = new RTCPeerConnection({ iceServers: (await serverInfo).ice_servers?.map((urls) => ({ urls })) || [] }));
    pc.addTransceiver("video", { direction: "recvonly" });
    pc.addEventListener("track", (event) => {
      this.video.srcObject = event.streams[0] || new MediaStream([event.track]);
      this.video.play().catch(() => {});
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc === this._pc && pc.connectionState === "failed") {
        this._fallBack(generation, "the WebRTC connection failed (no route to the robot?)");
      }
    });
    const firstFrame = setTimeout(() => {
      if (pc === this._pc && this.root.dataset.state !== "live") {
        this._fallBack(generation, `no WebRTC picture within ${FIRST_FRAME_MS / 1000} s`);
      }
    }, FIRST_FRAME_MS);
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      if (pc !== this._pc) return;
      const answer = await api(apiPath("webrtc/offer"), {
        method: "POST",
        body: { topic: this.topic, type: "offer", sdp: pc.localDescription.sdp, width: config.camera_width },
      });
      if (pc !== this._pc) {
        this._forget(answer.id);
        return;
      }
      this._session = answer.id;
      this._codec = (answer.codec || "").toUpperCase();
      this._showTransport("webrtc");
      await pc.setRemoteDescription({ type: answer.type, sdp: answer.sdp });
    } catch (err) {
      clearTimeout(firstFrame);
      this._fallBack(generation, `WebRTC refused: ${err.message}`);
    }
  }

  _forget(id) {
    if (id) api(apiPath("webrtc/sessions", id), { method: "DELETE", keepalive: true }).catch(() => {});
  }

  _closePeer() {
    if (this._pc) {
      this._pc.close(); // the server sees the peer go and closes the session itself
      this._pc = null;
    }
    this._session = null;
    this.video.srcObject = null;
  }

  /** Write the frame rate `hz` as the server counts it (called once a second). */
  renderRate(hz) {
    hz = this.visible ? hz : 0;
    if (this.rateEl) this.rateEl.textContent = hz ? `${fmt(hz, 1)} fps` : "–";
  }

  _stop() {
    this._generation += 1;
    clearTimeout(this._retry);
    this._streaming = false;
    this._closePeer();
    this.img.src = BLANK; // closes the stream's connection
    this.root.dataset.state = "stopped";
  }
}
