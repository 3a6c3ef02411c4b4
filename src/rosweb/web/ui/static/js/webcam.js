// The webcam page: this browser's camera to a topic on the robot over WebRTC
// (POST /api/webrtc/publish). Browsers give the camera to secure pages only (HTTPS, localhost).

import { api, apiPath, atLeast } from "./util.js";

const ICE_GATHERING_MS = 3000;
const $ = (id) => document.getElementById(id);
const form = $("webcam-form");
const status = $("webcam-status");
const preview = $("webcam-preview");
let pc = null;
let session = null;
let stream = null;
let timer = null;

function say(text, state) {
  status.textContent = text;
  status.dataset.state = state;
}

function gathered(peer) {
  if (peer.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    peer.addEventListener("icegatheringstatechange", () => peer.iceGatheringState === "complete" && resolve());
    setTimeout(resolve, ICE_GATHERING_MS);
  });
}

async function frameCount() {
  if (!pc) return 0;
  for (const report of (await pc.getStats()).values()) {
    if (report.type === "outbound-rtp" && report.kind === "video") return report.framesEncoded || 0;
  }
  return 0;
}

async function start() {
  const topic = $("webcam-topic").value.trim();
  const width = Number($("webcam-width").value);
  $("webcam-start").disabled = true;
  say("asking for the camera", "connecting");
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: width } }, audio: false });
    preview.srcObject = stream;
    pc = new RTCPeerConnection({ iceServers: [] });
    for (const track of stream.getVideoTracks()) pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
    pc.addEventListener("connectionstatechange", () => {
      if (pc?.connectionState === "failed") say("the WebRTC connection failed (no route to the robot?)", "error");
    });
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    say(`connecting to ${topic}`, "connecting");
    const answer = await api(apiPath("webrtc/publish"), {
      method: "POST",
      body: { topic, type: "offer", sdp: pc.localDescription.sdp, width },
    });
    session = answer.id;
    await pc.setRemoteDescription({ type: answer.type, sdp: answer.sdp });
    $("webcam-stop").disabled = false;
    timer = setInterval(async () => {
      if (pc?.connectionState === "connected") say(`sending to ${topic}: ${await frameCount()} frames`, "live");
    }, 500);
  } catch (err) {
    stop();
    say(`cannot send the camera: ${err.message}`, "error");
  }
}

function stop() {
  clearInterval(timer);
  pc?.close();
  pc = null;
  for (const track of stream?.getTracks() || []) track.stop();
  stream = null;
  preview.srcObject = null; // closing the connection ends the session on the server too
  session = null;
  $("webcam-start").disabled = false;
  $("webcam-stop").disabled = true;
  if (status.dataset.state !== "error") say("stopped", "idle");
}

$("webcam-insecure").hidden = window.isSecureContext && !!navigator.mediaDevices;
$("webcam-role").hidden = atLeast("operator");
form.addEventListener("submit", (event) => {
  event.preventDefault();
  start();
});
$("webcam-stop").addEventListener("click", stop);
window.addEventListener("pagehide", stop);
