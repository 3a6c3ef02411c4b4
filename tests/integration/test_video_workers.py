"""``rosweb run --workers N --input ...``: the agent (the process with the node) runs the inputs
once; every worker sees the topic, serves it (snapshot, MJPEG, WebRTC) and reports the input in
its /api/health; a bad source stops the command with one line."""

from __future__ import annotations

import base64
import io
import itertools
import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
import websocket
from PIL import Image

from helpers import free_port, wait_for
from integration.test_processes import BIN, clean_env, start
from integration.test_workers import api_up
from video_helpers import counter, make_video
from webrtc_peer import Loop, Receiver

pytestmark = pytest.mark.integration

CLIP = "/clip/image_raw"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three seconds of the counting pattern at 30 fps."""
    return make_video(tmp_path_factory.mktemp("video") / "clip.mp4", frames=90, fps=30)


def counters(url: str, count: int) -> list[int]:
    """The counters of ``count`` consecutive messages of the clip's topic, over rosbridge."""
    ws = websocket.create_connection(url, timeout=10)
    try:
        ws.send(json.dumps({"op": "subscribe", "topic": CLIP, "id": "s", "queue_length": 100}))
        found: list[int] = []
        while len(found) < count:
            message = json.loads(ws.recv())
            if message.get("op") != "publish":
                continue
            msg: dict[str, Any] = message["msg"]
            pixels = np.frombuffer(base64.b64decode(msg["data"]), np.uint8)
            found.append(counter(pixels.reshape(msg["height"], msg["width"], 3)))
        return found
    finally:
        ws.close()


def test_workers_share_the_agents_input(processes: list[subprocess.Popen[str]], clip: Path) -> None:
    port = free_port()
    start(processes, [str(BIN / "rosweb"), "run", "--workers", "2", "--port", str(port),
                      "--input", f"{clip}={CLIP}"])  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: api_up(url), timeout=60)

    def inputs() -> list[dict[str, Any]]:
        return list(requests.get(url + "/api/health", timeout=5).json()["video"]["inputs"])

    for _ in range(4):  # requests land on either worker: each tells of the agent's input
        wait_for(lambda: (found := inputs()) and found[0]["frames"] > 0, timeout=20)
        assert [(i["topic"], i["state"]) for i in inputs()] == [(CLIP, "running")]
    # published once (by the agent), not once per worker: the counters only go up (but where
    # the clip starts again); two publishers would interleave and go back and forth
    numbers = counters(f"ws://127.0.0.1:{port}/ws", 30)
    steps = [b - a for a, b in itertools.pairwise(numbers)]
    assert all(step > 0 or step < -60 for step in steps), numbers
    assert len(set(numbers)) >= 20, numbers
    for _ in range(3):  # every worker serves it
        snapshot = requests.get(f"{url}/snapshot{CLIP}.jpg", timeout=10)
        assert snapshot.status_code == 200
        assert 0 <= counter(np.asarray(Image.open(io.BytesIO(snapshot.content)))) < 90
    loop = Loop()
    viewer = Receiver(loop)
    try:
        assert viewer.offer(url, CLIP).status_code == 200
        wait_for(lambda: len({n for _, n in viewer.counters}) >= 10, timeout=20)
    finally:
        viewer.close()
        loop.close()


def test_workers_with_a_bad_input_exit_1_with_one_line() -> None:
    result = subprocess.run(
        [str(BIN / "rosweb"), "run", "--workers", "2", "--port", str(free_port()),
         "--input", "/dev/video97=/cam/image_raw"],
        env=clean_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "rosweb: error: --input /dev/video97=/cam/image_raw: cannot open /dev/video97: " in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
