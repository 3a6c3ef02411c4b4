"""The camera over WebRTC in Chromium: the page's <video> plays a ``--input`` video file (its frame
counter read from the picture moves on), a second viewer shares the encoder, MJPEG takes over by
itself when WebRTC is refused; and Chromium's fake camera sent to a topic over HTTPS."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from e2e_helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DESKTOP, goto, open_page, serve_rosweb
from playwright.sync_api import Browser, Page, Playwright

from helpers import free_port, wait_for
from video_helpers import make_video

CLIP = "/clip/image_raw"

#: the counter drawn in the picture (tests/video_helpers.py), read from the <video> in the page
READ_COUNTER = """(root) => {
  const video = root.querySelector("[data-camera-video]");
  if (!video.videoWidth) return -1;
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(video, 0, 0);
  const band = Math.max(2, Math.floor(canvas.height * 0.1));
  const block = canvas.width / 16;
  let value = 0;
  for (let bit = 0; bit < 16; bit++) {
    const x = Math.floor((bit + 0.5) * block);
    const [r, g, b] = ctx.getImageData(x, Math.floor(band / 2), 1, 1).data;
    value = value * 2 + ((r + g + b) / 3 > 128 ? 1 : 0);
  }
  return value;
}"""


@pytest.fixture(scope="module")
def video_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    clip = make_video(tmp_path_factory.mktemp("video") / "clip.mp4", frames=150, fps=30)
    inputs = json.dumps([f"{clip}={CLIP}"])
    with serve_rosweb({"ROSWEB_INPUTS": inputs}, "rosweb-video.log") as url:
        yield url


def watch_clip(page: Page, url: str) -> None:
    goto(page, url, "watch")
    page.wait_for_selector(f"#camera-topic-watch option[value='{CLIP}']", state="attached")
    page.select_option("#camera-topic-watch", CLIP)


def counters(page: Page, count: int = 4) -> list[int]:
    root = page.locator("[data-camera=watch]")
    seen = []
    for _ in range(count):
        seen.append(root.evaluate(READ_COUNTER))
        time.sleep(0.3)
    return seen


def test_the_camera_plays_over_webrtc_and_a_second_viewer_shares_the_encoder(
    browser: Browser, video_server: str
) -> None:
    first, problems = open_page(browser, video_server, DESKTOP)
    second, problems2 = open_page(browser, video_server, DESKTOP)
    try:
        watch_clip(first, video_server)
        first.wait_for_selector("[data-camera=watch][data-transport=webrtc][data-state=live]")
        badge = first.locator("[data-camera=watch] [data-camera-transport]")
        assert badge.inner_text() == "WebRTC VP8"
        seen = counters(first)
        assert all(0 <= n < 150 for n in seen), seen
        assert len(set(seen)) >= 3, seen  # the picture moves on
        playing = first.locator("[data-camera=watch] video")
        before = playing.evaluate("v => v.currentTime")
        time.sleep(0.5)
        assert playing.evaluate("v => v.currentTime") > before
        watch_clip(second, video_server)
        second.wait_for_selector("[data-camera=watch][data-transport=webrtc][data-state=live]")
        info = requests.get(video_server + "/api/webrtc", timeout=5).json()
        clip = [e for e in info["encoders"] if e["topic"] == CLIP and e["viewers"]]
        assert [e["viewers"] for e in clip] == [2]
        first.screenshot(path=str(ARTIFACTS / "video-webrtc.png"))
    finally:
        first.context.close()
        second.context.close()
    assert not problems.errors, problems.errors
    assert not problems2.errors, problems2.errors
    assert not problems.foreign, problems.foreign


def test_mjpeg_takes_over_by_itself_when_webrtc_is_refused(
    browser: Browser, video_server: str
) -> None:
    page, problems = open_page(browser, video_server, DESKTOP)
    try:
        page.route("**/api/webrtc/offer", lambda route: route.fulfill(
            status=503, content_type="application/json",
            body='{"error": {"code": "too_many_sessions", "message": "16 sessions are open"}}',
        ))  # fmt: skip
        watch_clip(page, video_server)
        page.wait_for_selector("[data-camera=watch][data-transport=mjpeg][data-state=live]")
        badge = page.locator("[data-camera=watch] [data-camera-transport]")
        assert badge.inner_text() == "MJPEG"
        assert "WebRTC refused: 16 sessions are open" in (badge.get_attribute("title") or "")
        src = page.locator("[data-camera=watch] [data-camera-img]").get_attribute("src") or ""
        assert "/stream/clip/image_raw.mjpg" in src
    finally:
        page.context.close()
    assert [e for e in problems.errors if "webrtc/offer" not in e and "503" not in e] == []


# -- the browser's camera to the robot, over HTTPS -----------------------------------------------


@contextmanager
def serve_https(cert: Path, key: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROSWEB_")}
    rosweb = Path(sys.executable).with_name("rosweb")
    with (ARTIFACTS / "rosweb-webcam.log").open("w") as log:
        proc = subprocess.Popen(
            [str(rosweb), "run", "--port", str(port), "--cert", str(cert), "--key", str(key)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"https://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, "rosweb run exited: see tests/e2e/artifacts/rosweb-webcam.log"
        try:
            return requests.get(f"{url}/api/", verify=str(cert), timeout=1).ok
        except requests.ConnectionError:
            return False

    try:
        wait_for(up, timeout=30, interval=0.1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def test_the_fake_camera_reaches_a_topic_over_https(
    playwright: Playwright, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
    try:
        with serve_https(cert, key) as url:
            context = browser.new_context(viewport=DESKTOP, ignore_https_errors=True)
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{url}/webcam")
            assert page.locator("#webcam-insecure").is_hidden()
            page.click("#webcam-start")
            page.wait_for_selector("#webcam-status[data-state=live]")

            def latest() -> dict[str, object]:
                r = requests.get(f"{url}/api/topics/webcam/image_raw", verify=str(cert), timeout=5)
                return r.json() if r.ok else {}

            first = wait_for(latest, timeout=15)
            msg = first["msg"]
            assert isinstance(msg, dict)
            assert (msg["width"], msg["height"], msg["encoding"]) == (640, 480, "rgb8")
            seq = msg["header"]["seq"]
            wait_for(lambda: latest()["msg"]["header"]["seq"] > seq + 10, timeout=10)  # type: ignore[index]
            page.screenshot(path=str(ARTIFACTS / "video-webcam.png"))
            page.click("#webcam-stop")
            context.close()
    finally:
        browser.close()
