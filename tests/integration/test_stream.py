"""Camera streaming over HTTP, through both transports: MJPEG to several viewers, snapshots."""

from __future__ import annotations

import contextlib
import io
import threading
import time

import numpy as np
import pytest
import requests
from PIL import Image

from helpers import Endpoint, assert_error, wait_for

pytestmark = pytest.mark.integration

CAMERA = "/stream/camera/image_raw.mjpg"


class Viewer(threading.Thread):
    """Reads an MJPEG stream and counts its JPEG parts."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.frames = 0
        self.last = b""
        self.stop = False
        self.content_type = ""

    def run(self) -> None:
        with contextlib.suppress(requests.RequestException):  # the server left at the end
            self._read()

    def _read(self) -> None:
        with requests.get(self.url, stream=True, timeout=10) as response:
            self.content_type = response.headers["content-type"]
            buffer = b""
            for chunk in response.iter_content(chunk_size=65536):
                buffer += chunk
                while True:
                    start = buffer.find(b"\xff\xd8")
                    end = buffer.find(b"\xff\xd9", start + 2)
                    if start < 0 or end < 0:
                        break
                    self.last = buffer[start : end + 2]
                    buffer = buffer[end + 2 :]
                    self.frames += 1
                if self.stop:
                    return


def test_five_viewers_get_every_frame_from_one_encoder(endpoint: Endpoint) -> None:
    viewers = [Viewer(endpoint.url + CAMERA) for _ in range(5)]
    for viewer in viewers:
        viewer.start()
    wait_for(lambda: all(v.frames > 2 for v in viewers), timeout=15)
    (source,) = endpoint.state.robot.camera.sources()  # one encoder for the five viewers
    frames_before = source.frames_in
    seen_before = [v.frames for v in viewers]
    time.sleep(3)
    produced = source.frames_in - frames_before
    for viewer in viewers:
        viewer.stop = True
    for viewer, before in zip(viewers, seen_before, strict=True):
        assert viewer.frames - before >= 0.9 * produced - 1, (viewer.frames - before, produced)
    for viewer in viewers:
        viewer.join(5)
    assert produced >= 30  # the sim camera runs at 15 Hz
    assert source.encodes == source.frames_in  # once per frame, not once per viewer
    assert viewers[0].content_type.startswith("multipart/x-mixed-replace")
    Image.open(io.BytesIO(viewers[0].last)).verify()


def test_snapshot_shows_the_robot_turning(endpoint: Endpoint) -> None:
    before = requests.get(endpoint.url + "/snapshot/camera/image_raw.jpg?width=160", timeout=10)
    assert before.status_code == 200
    assert before.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(before.content)).size == (160, 120)
    for _ in range(8):
        requests.post(endpoint.url + "/api/teleop", json={"command": "left"}, timeout=5)
        time.sleep(0.1)
    after = requests.get(endpoint.url + "/snapshot/camera/image_raw.jpg?width=160", timeout=10)
    a = np.asarray(Image.open(io.BytesIO(before.content)).convert("L"), dtype=float)
    b = np.asarray(Image.open(io.BytesIO(after.content)).convert("L"), dtype=float)
    assert np.abs(a - b).mean() > 5  # the view turned


@pytest.mark.parametrize(
    ("path", "status", "code", "field"),
    [
        ("/stream/odom.mjpg", 422, "not_an_image", "topic"),
        ("/stream/nope.mjpg", 404, "not_found", None),
        ("/stream/camera/image_raw.mjpg?quality=0", 400, "bad_parameter", "quality"),
        ("/stream/camera/image_raw.mjpg?width=huge", 400, "bad_parameter", "width"),
        ("/snapshot/scan.jpg", 422, "not_an_image", "topic"),
    ],
)
def test_bad_stream_requests(
    endpoint: Endpoint, path: str, status: int, code: str, field: str | None
) -> None:
    assert_error(requests.get(endpoint.url + path, timeout=10), status, code, field)


def test_unwatched_encoders_stop(endpoint: Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    from rosweb.core import camera

    monkeypatch.setattr(camera, "GRACE", 0.1)
    requests.get(endpoint.url + "/snapshot/camera/image_raw.jpg", timeout=10)
    assert len(endpoint.state.robot.camera.sources()) == 1
    time.sleep(0.3)
    requests.get(endpoint.url + "/snapshot/camera/image_raw.jpg?quality=50", timeout=10)
    assert [s.variant.quality for s in endpoint.state.robot.camera.sources()] == [50]
