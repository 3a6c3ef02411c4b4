"""Camera encoders and event streams within bounds (#12.6, #12.7), measured on ``rosweb run``:
encoders are shared by snapped widths and qualities, capped by ``ROSWEB_MAX_ENCODERS`` and stop
by themselves after their last viewer (20 snapshots left 28 threads encoding for 40 s and more);
an event stream whose client never reads is cut after ``ROSWEB_WS_STALL_TIMEOUT`` with bounded
memory (it grew the server by 164 MB in 60 s)."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Callable

import pytest

from helpers import wait_for
from reliability.procs import Served

pytestmark = [pytest.mark.integration, pytest.mark.reliability]


@pytest.fixture(scope="module")
def server(module_servers: Callable[..., Served]) -> Served:
    return module_servers(ROSWEB_MAX_ENCODERS="3", ROSWEB_WS_STALL_TIMEOUT="2")


def camera_feeds(server: Served) -> dict[str, object]:
    """The health's feeds (topics rosweb receives, with their consumers)."""
    feeds: dict[str, object] = server.get("/api/health").json()["feeds"]
    return feeds


def idle_threads(server: Served) -> int:
    """The server's threads once no encoder runs (encoders stop 5 s after their last viewer)."""
    time.sleep(0.5)
    return server.figures().threads


def test_snapshots_of_many_widths_share_a_few_encoders_that_stop_by_themselves(
    server: Served,
) -> None:
    assert server.get("/snapshot/camera/image_raw.jpg").status_code == 200
    wait_for(lambda: server.figures().threads <= idle_threads(server), timeout=20)
    before = server.figures().threads
    for width in range(640, 660):  # snapped to 640 and 800: two encoders, not twenty
        reply = server.get(f"/snapshot/camera/image_raw.jpg?width={width}")
        assert reply.status_code == 200, reply.text
        assert reply.content[:3] == b"\xff\xd8\xff"
    busy = server.figures().threads
    assert busy - before <= 2 + 2, (before, busy)  # two encoders (and pool threads)
    # nobody watches: they stop by themselves, with no later request to notice it: the camera
    # has no consumer left, and their threads are gone (a request pool that grew, when a
    # request came before the last one's worker was idle again, does not shrink: +2 at most)
    wait_for(lambda: "/camera/image_raw" not in camera_feeds(server), timeout=20, interval=0.5)
    wait_for(lambda: server.figures().threads <= max(before, busy - 2), timeout=20, interval=0.5)
    for width in ("4096", "0", "nan", "-1"):
        refused = server.get(f"/snapshot/camera/image_raw.jpg?width={width}&quality=100")
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["field"] == "width"


def test_encoders_past_the_bound_are_refused_with_503(server: Served) -> None:
    wait_for(lambda: server.figures().threads <= idle_threads(server), timeout=20)
    viewers = []
    try:
        for quality in (20, 40, 60):  # three variants: the bound of this server
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            connection.request("GET", f"/stream/camera/image_raw.mjpg?quality={quality}")
            response = connection.getresponse()
            assert response.status == 200
            response.read(1024)
            viewers.append(connection)
        # a quality rounded to one that runs already shares it...
        shared = server.get("/snapshot/camera/image_raw.jpg?quality=41")
        assert shared.status_code == 200
        # ...a fourth variant is refused
        refused = server.get("/snapshot/camera/image_raw.jpg?quality=90")
        assert refused.status_code == 503, refused.headers
        assert refused.json()["error"]["code"] == "too_many_encoders"
    finally:
        for connection in viewers:
            connection.close()


def test_an_event_stream_that_is_never_read_is_cut_with_bounded_memory(server: Served) -> None:
    before = server.figures()
    reader = socket.socket()
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the client's window stays shut
    reader.connect(("127.0.0.1", server.port))
    reader.sendall(b"GET /api/topics/camera/image_raw/events?queue_length=1000 HTTP/1.1\r\n"
                   b"Host: 127.0.0.1\r\n\r\n")  # fmt: skip
    try:
        peak = before
        for _ in range(16):  # 8 s without reading: four stall timeouts
            time.sleep(0.5)
            sample = server.figures()
            peak = sample if sample.rss > peak.rss else peak
        # 15 images a second of 300 KB of JSON each, for 2 s at most, then dropped
        assert peak.rss - before.rss < 80, (before, peak)
        # the server closed the stream: what is left to read ends
        reader.settimeout(10)
        received = 0
        while chunk := reader.recv(1 << 16):
            received += len(chunk)
            assert received < 32 << 20, "the stream still flows: it was never cut"
    finally:
        reader.close()
    wait_for(lambda: server.figures().rss - before.rss < 40, timeout=10)
