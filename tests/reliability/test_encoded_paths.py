"""Percent-encoded paths of every streaming route (#12.1, #12.8's ``/w%73``): on both
transports, ``/stream/cam%2Emjpg`` streams exactly as ``/stream/cam.mjpg`` does, from the native
handler, and never inside a server that buffers whole responses (Tornado's WSGI container kept
collecting such a response in memory, after its client had gone too).

Requests go out with http.client and raw paths: ``requests`` would decode ``%65`` to ``e``
before sending."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import websocket

from reliability.procs import Served

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

MJPEG = [
    "/stream/camera/image_raw.mjpg",
    "/stream/camera/image_raw%2Emjpg",
    "/stream/camera/image_raw%2emjpg",
    "/stream/camera/image_raw.%6Djpg",
    "/%73tream/camera/image_raw.mjpg",
    "/stream/camera%2Fimage_raw.mjpg",
    "/stream/c%61mera/image_raw%2Emjpg",
    "/%73%74%72%65%61%6D/%63amera/image_raw%2E%6D%6A%70%67",
]
SSE = [
    "/api/topics/odom/events",
    "/api/topics/odom/%65vents",
    "/api/topics/odom/ev%65nt%73",
    "/api/topics/odom%2Fevents",
    "/%61pi/topics/odom/events",
    "/api/topics/%6Fdom/events",
    "/api%2Ftopics%2Fodom%2Fevents",
]
WEBSOCKET = ["/ws", "/w%73", "/%77s", "/%77%73"]


@pytest.fixture(scope="module", params=["rosweb", "flask"])
def server(request: pytest.FixtureRequest, module_servers: Callable[..., Served]) -> Served:
    return module_servers(kind=request.param)


def open_raw(server: Served, path: str) -> tuple[http.client.HTTPConnection, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", path)
    return connection, connection.getresponse()  # headers within 10 s, or socket.timeout


@pytest.mark.parametrize("path", MJPEG)
def test_an_encoded_mjpeg_path_streams_from_the_native_handler(server: Served, path: str) -> None:
    connection, response = open_raw(server, path + "?width=320")
    try:
        assert response.status == 200, response.read(500)
        assert response.getheader("Content-Type").startswith("multipart/x-mixed-replace")
        first = response.read(4096)
        assert b"Content-Type: image/jpeg" in first
    finally:
        connection.close()


@pytest.mark.parametrize("path", SSE)
def test_an_encoded_event_path_streams_from_the_native_handler(server: Served, path: str) -> None:
    connection, response = open_raw(server, path)
    try:
        assert response.status == 200, response.read(500)
        assert response.getheader("Content-Type").startswith("text/event-stream")
        data = b""
        while b"\ndata: " not in data:
            data += response.read1(4096)
        event = data.split(b"\ndata: ", 1)[1].split(b"\n", 1)[0]
        assert json.loads(event)["header"]["frame_id"] == "odom"
    finally:
        connection.close()


@pytest.mark.parametrize("path", WEBSOCKET)
def test_an_encoded_websocket_path_upgrades_and_speaks_rosbridge(server: Served, path: str) -> None:
    ws = websocket.create_connection(f"ws://127.0.0.1:{server.port}{path}", timeout=10)
    try:
        ws.send(json.dumps({"op": "subscribe", "topic": "/odom", "id": "o"}))
        message = json.loads(ws.recv())
        assert message["op"] == "publish", message
        assert message["topic"] == "/odom"
    finally:
        ws.close()


@pytest.mark.parametrize(
    "path",
    ["/stream/camera/image_raw%252Emjpg", "/api/topics/odom/%2565vents", "/w%2573",
     "/stream/camera/image_raw.mjpg%00", "/x/../stream/camera/image_raw.mjpg"],
)  # fmt: skip
def test_a_path_that_is_no_stream_answers_a_json_error_at_once(server: Served, path: str) -> None:
    """Decoded twice or not a route at all: a clean 4xx with rosweb's error body (never a
    buffered stream, never a 500 with a traceback)."""
    for upgrade in (False, True):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        headers = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                   "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="} if upgrade else {}  # fmt: skip
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read(2000)
        finally:
            connection.close()
        assert 400 <= response.status < 500, (path, upgrade, response.status, body)
        assert b"Traceback" not in body


def test_abandoned_encoded_streams_leave_no_memory_behind(server: Served) -> None:
    """Twelve big encoded streams, each read for one frame and dropped: the server's memory
    and threads come back to what they were (the buffering container grew by hundreds of MB,
    still growing after the clients had left)."""
    paths = [
        "/stream/camera/image_raw%2Emjpg?width=1920&quality=100",
        "/api/topics/camera/image_raw/%65vents?queue_length=1000",
    ]
    server.get("/api/topics/camera/image_raw")  # the camera's feed is cached from here on
    before = server.figures()
    for _ in range(6):
        for path in paths:
            connection, response = open_raw(server, path)
            assert response.status == 200
            response.read(2048)
            connection.close()
    time.sleep(6.0)  # longer than an encoder's grace (5 s): what stays now, stays
    after = server.figures()
    assert after.rss - before.rss < 60, (before, after)
    assert after.threads - before.threads <= 4, (before, after)
    assert after.fds - before.fds <= 4, (before, after)
