"""Video over real sockets: a generated video file as ``--input``, seen through the topic, the
snapshot, MJPEG and WebRTC (an aiortc peer as the browser); a peer's camera sent to a topic;
compressed siblings; and what is refused."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from PIL import Image

from helpers import LiveServer, assert_error, wait_for
from rosweb.core.video import frames
from rosweb.web.auth import hash_token
from video_helpers import counter, make_video
from webrtc_peer import Loop, Receiver, Sender, raw_offer

pytestmark = pytest.mark.integration

Serve = Callable[..., LiveServer]
CLIP = "/clip/image_raw"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three seconds of the counting pattern at 30 fps."""
    return make_video(tmp_path_factory.mktemp("video") / "clip.mp4", frames=90, fps=30)


@pytest.fixture
def loop() -> Iterator[Loop]:
    loop = Loop()
    yield loop
    loop.close()


@pytest.fixture
def live(serve: Serve, clip: Path) -> LiveServer:
    return serve({"ROSWEB_INPUTS": [f"{clip}={CLIP}"]})


def received(
    live: LiveServer, topic: str, count: int, type_name: str | None = None
) -> list[dict[str, Any]]:
    """The next ``count`` messages of ``topic``, as a subscriber of the hub sees them."""
    with live.state.robot.local.consume(topic, type_name, queue_length=count + 5) as consumer:
        got: list[dict[str, Any]] = []
        while len(got) < count:
            envelope = consumer.get(timeout=5)
            assert envelope is not None, f"no message on {topic} within 5 s"
            got.append(envelope.msg)
    return got


def seconds(msg: dict[str, Any]) -> float:
    stamp = msg["header"]["stamp"]
    return float(stamp["secs"] + stamp["nsecs"] * 1e-9)


def test_a_video_file_reaches_its_topic_at_the_source_rate(live: LiveServer) -> None:
    topics = requests.get(live.url + "/api/topics", timeout=5).json()["topics"]
    assert {"name": CLIP, "type": "sensor_msgs/Image"} in topics
    msgs = received(live, CLIP, 31)
    numbers = [counter(frames.array_of("sensor_msgs/Image", m)) for m in msgs]
    steps = np.diff(numbers) % 90  # the file loops: 89 -> 0 is one step
    assert set(steps.tolist()) == {1}, numbers  # every frame, in order
    elapsed = seconds(msgs[-1]) - seconds(msgs[0])
    assert 0.8 < elapsed < 1.2, elapsed  # 30 frames of a 30 fps file take a second, not less
    first = msgs[0]
    assert (first["width"], first["height"], first["encoding"]) == (320, 240, "rgb8")
    assert first["header"]["frame_id"] == "clip"
    health = requests.get(live.url + "/api/health", timeout=5).json()["video"]["inputs"]
    assert health[0]["topic"] == CLIP
    assert health[0]["state"] == "running"
    assert health[0]["frames"] > 30


def test_the_snapshot_and_mjpeg_show_the_input(live: LiveServer) -> None:
    received(live, CLIP, 1)
    jpeg = requests.get(live.url + "/snapshot/clip/image_raw.jpg", timeout=10)
    assert jpeg.status_code == 200
    assert 0 <= counter(np.asarray(Image.open(io.BytesIO(jpeg.content)))) < 90
    seen = []
    with requests.get(live.url + "/stream/clip/image_raw.mjpg", stream=True, timeout=10) as r:
        buffer = b""
        for chunk in r.iter_content(4096):
            buffer += chunk
            start, end = buffer.find(b"\xff\xd8"), buffer.find(b"\xff\xd9")
            if 0 <= start < end:
                picture = Image.open(io.BytesIO(buffer[start : end + 2]))
                seen.append(counter(np.asarray(picture)))
                buffer = buffer[end + 2 :]
            if len(seen) == 5:
                break
    assert len(set(seen)) >= 4, seen  # the picture moves on


def test_webrtc_viewers_receive_the_input_and_share_one_encoder(
    live: LiveServer, loop: Loop
) -> None:
    first, second = Receiver(loop), Receiver(loop)
    try:
        response = first.offer(live.url, CLIP)
        assert response.status_code == 200, response.text
        assert response.json()["codec"] == "vp8"
        assert second.offer(live.url, "clip/image_raw").status_code == 200
        for viewer in (first, second):
            wait_for(lambda v=viewer: len(v.counters) >= 20, timeout=20)  # type: ignore[misc]
            numbers = [n for _, n in viewer.counters]
            assert all(0 <= n < 90 for n in numbers), numbers
            assert len(set(numbers)) >= 15  # the pictures of the file, moving on
            assert viewer.size == (320, 240)
        info = requests.get(live.url + "/api/webrtc", timeout=5).json()
        assert [(e["topic"], e["viewers"]) for e in info["encoders"]] == [(CLIP, 2)]
        assert len(info["sessions"]) == 2
        # one encode per frame for both viewers: each got (about) every packet encoded once
        encoder = info["encoders"][0]
        assert encoder["encoded"] <= encoder["frames_in"]

        def shared() -> bool:
            # more packets went out than were encoded: they are shared. The first viewer's
            # packets before the second joined count once, and a viewer lagging on a loaded
            # machine skips to a keyframe, so this holds once both have watched a while.
            now = requests.get(live.url + "/api/webrtc", timeout=5).json()
            return sum(s["sent"] for s in now["sessions"]) > now["encoders"][0]["encoded"]

        wait_for(shared, timeout=20, interval=0.2)
        assert {s["state"] for s in info["sessions"]} == {"connected"}
        # a smaller width is another encoder
        third = Receiver(loop)
        assert third.offer(live.url, CLIP, width=160).status_code == 200
        wait_for(lambda: third.size == (160, 120), timeout=20)
        third.close()
    finally:
        first.close()
        second.close()
    wait_for(lambda: not live.state.robot.health()["feeds"].get(CLIP, {}).get("consumers") or True)
    gone = requests.delete(f"{live.url}/api/webrtc/sessions/{first.answer['id']}", timeout=5)
    assert_error(gone, 404, "not_found")  # closed with its peer


def test_h264_when_asked(live: LiveServer, loop: Loop) -> None:
    viewer = Receiver(loop)
    try:
        response = viewer.offer(live.url, CLIP, codec="h264")
        assert response.status_code == 200, response.text
        assert response.json()["codec"] == "h264"
        wait_for(lambda: len(viewer.counters) >= 10, timeout=20)
        assert len({n for _, n in viewer.counters}) >= 8
    finally:
        viewer.close()


def test_a_peer_camera_reaches_a_topic(serve: Serve, loop: Loop) -> None:
    live = serve()
    sender = Sender(loop)
    try:
        response = sender.publish(live.url, "/webcam/image_raw", width=160)
        assert response.status_code == 200, response.text
        msgs = received(live, "/webcam/image_raw", 10, "sensor_msgs/Image")
    finally:
        sender.close()
    numbers = [counter(frames.array_of("sensor_msgs/Image", m)) for m in msgs]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) >= 8
    assert (msgs[0]["width"], msgs[0]["height"]) == (160, 120)
    assert msgs[0]["header"]["frame_id"] == "webcam"


def test_compressed_siblings_on_request(serve: Serve) -> None:
    live = serve({"ROSWEB_COMPRESSED_TOPICS": ["/camera/image_raw"]})
    msg = received(live, "/camera/image_raw/compressed", 1, "sensor_msgs/CompressedImage")[0]
    assert msg["format"] == "rgb8; jpeg compressed bgr8"
    picture = Image.open(io.BytesIO(msg["data"]))
    assert (picture.format, picture.size) == ("JPEG", (320, 240))
    types = dict(live.state.robot.local.topics())
    assert types["/camera/image_raw/compressed"] == "sensor_msgs/CompressedImage"


# -- refused -------------------------------------------------------------------------------------


def rosweb_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("rosweb")), "run", "--port", "0", *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_a_missing_device_or_a_corrupt_file_is_one_line_at_start_up(tmp_path: Path) -> None:
    missing = rosweb_run("--input", "/dev/video97=/cam/image_raw")
    assert missing.returncode == 1
    lines = [line for line in missing.stderr.splitlines() if "error" in line]
    assert lines == [
        "rosweb: error: --input /dev/video97=/cam/image_raw: cannot open /dev/video97: "
        "No such file or directory"
    ]
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    bad = rosweb_run("--input", str(corrupt))
    assert bad.returncode == 1
    assert bad.stderr.splitlines()[-1] == (
        f"rosweb: error: --input {corrupt}: cannot open {corrupt}: "
        "Invalid data found when processing input"
    )
    option = rosweb_run("--input", f"{corrupt}#speed=2")
    assert "unknown option 'speed'" in option.stderr.splitlines()[-1]


def test_a_source_that_fails_later_is_retried_and_reported(
    serve: Serve, clip: Path, tmp_path: Path
) -> None:
    moving = shutil.copy(clip, tmp_path / "moving.mp4")
    live = serve({"ROSWEB_INPUTS": [f"{moving}=/moving/image_raw"]})

    def state() -> dict[str, Any]:
        health = requests.get(live.url + "/api/health", timeout=5).json()
        return dict(health["video"]["inputs"][0])

    wait_for(lambda: state()["frames"] > 0)
    Path(moving).unlink()  # at its end the file is opened again: it is gone
    retrying = wait_for(lambda: (s := state())["state"] == "retrying" and s, timeout=10)
    assert retrying["error"] == "No such file or directory"
    assert retrying["retries"] >= 1
    shutil.copy(clip, moving)
    wait_for(lambda: state()["state"] == "running", timeout=15)
    frames_before = state()["frames"]
    wait_for(lambda: state()["frames"] > frames_before + 10, timeout=10)


def test_refused_offers(live: LiveServer, loop: Loop) -> None:
    url = live.url + "/api/webrtc/offer"
    video = raw_offer(loop, lambda pc: pc.addTransceiver("video", direction="recvonly"))
    audio = raw_offer(loop, lambda pc: pc.addTransceiver("audio", direction="recvonly"))

    def post(body: Any) -> requests.Response:
        return requests.post(url, json=body, timeout=10)

    assert_error(post({"topic": CLIP, "type": "offer", "sdp": "hello"}), 422, field="sdp")
    assert_error(post({"topic": CLIP, "type": "offer", "sdp": audio}), 422, field="sdp")
    assert_error(post({"topic": CLIP, "type": "answer", "sdp": video}), 422, field="type")
    assert_error(post({"topic": CLIP}), 422, field="sdp")
    assert_error(post([1]), 400, "bad_json")
    assert_error(post({"topic": "no such", "sdp": video}), 400, "bad_name")
    assert_error(post({"topic": "/odom", "sdp": video}), 422, "not_an_image")
    assert_error(post({"topic": "/nothing/here", "sdp": video}), 404)
    assert_error(post({"topic": CLIP, "sdp": video, "codec": "av1"}), 422, field="codec")
    assert_error(post({"topic": CLIP, "sdp": video, "bitrate": 10}), 422, field="bitrate")
    send = raw_offer(loop, lambda pc: pc.addTransceiver("video", direction="recvonly"))
    refused = requests.post(
        live.url + "/api/webrtc/publish", json={"topic": "/w/image_raw", "sdp": send}, timeout=10
    )
    assert_error(refused, 422, field="sdp")  # a receive-only offer cannot send a camera
    assert requests.get(live.url + "/api/webrtc", timeout=5).json()["sessions"] == []


def test_sessions_are_bounded(serve: Serve, clip: Path, loop: Loop) -> None:
    live = serve({"ROSWEB_INPUTS": [f"{clip}={CLIP}"], "ROSWEB_WEBRTC_MAX_SESSIONS": 1})
    first, second = Receiver(loop), Receiver(loop)
    try:
        assert first.offer(live.url, CLIP).status_code == 200
        assert_error(second.offer(live.url, CLIP), 503, "too_many_sessions")
    finally:
        first.close()


TOKENS = {"viewer": "t-viewer", "alice": "t-alice"}


def test_offers_are_authenticated_and_role_checked(serve: Serve, clip: Path, loop: Loop) -> None:
    users = {
        "viewer": {"role": "viewer", "tokens": [hash_token(TOKENS["viewer"])]},
        "alice": {"role": "operator", "tokens": [hash_token(TOKENS["alice"])]},
    }
    live = serve({
        "ROSWEB_USERS": users, "ROSWEB_INPUTS": [f"{clip}={CLIP}"],
        "ROSWEB_ROLES": {"viewer": {"deny_topics": ["/clip/*"]}},
    })  # fmt: skip
    viewer = {"Authorization": f"Bearer {TOKENS['viewer']}"}
    alice = {"Authorization": f"Bearer {TOKENS['alice']}"}
    anonymous = Receiver(loop)
    assert_error(anonymous.offer(live.url, CLIP), 401, "unauthorized")
    assert_error(Receiver(loop).offer(live.url, CLIP, viewer), 403, "forbidden")  # denied topic
    watcher = Receiver(loop)
    try:
        assert watcher.offer(live.url, "/camera/image_raw", viewer).status_code == 200
        wait_for(lambda: len(watcher.counters) > 3, timeout=20)
        sid = watcher.answer["id"]
        assert_error(requests.delete(f"{live.url}/api/webrtc/sessions/{sid}", headers=alice,
                                     timeout=5), 404)  # fmt: skip
        closed = requests.delete(f"{live.url}/api/webrtc/sessions/{sid}", headers=viewer, timeout=5)
        assert closed.json() == {"closed": sid}
    finally:
        watcher.close()
    assert_error(Sender(loop).publish(live.url, "/webcam/image_raw", viewer), 403, "forbidden")
    sender = Sender(loop)
    try:
        assert sender.publish(live.url, "/webcam/image_raw", alice).status_code == 200
        received(live, "/webcam/image_raw", 3, "sensor_msgs/Image")
    finally:
        sender.close()
    assert_error(requests.get(live.url + "/webcam", timeout=5), 401)
