"""How ``rosweb run`` writes a rosbridge connection's socket, over real sockets.

A topic's message is written by the thread that made it (the simulator's, a middleware's) when
the socket takes it at once, without waking the loop; the rest, and Tornado's own frames (a
pong, a close), by the loop. Whatever thread writes, the client must get whole frames in order.
"""

from __future__ import annotations

import base64
import json
import socket
import time

import pytest
import websocket

from rosweb.server import Server
from rosweb.server.handlers import tornado_handlers
from rosweb.web import RosWeb, create_app

pytestmark = pytest.mark.integration


def test_frames_of_every_writer_arrive_whole_and_in_order() -> None:
    """A client with a small receive buffer subscribes to the camera (~200 KB frames) and to
    /odom (50 Hz), stops reading for 2 s while it sends 40 pings (the server's socket fills up,
    sends are taken in part, and Tornado queues a pong behind them), then reads: every frame
    parses, camera frames are whole, /odom's sequence only rises, and pongs come back in order
    up to the last ping (Tornado answers only the newest of the pings that came while a pong
    waited to be sent, as RFC 6455 allows)."""
    app = create_app({"TESTING": True, "ROSWEB_WS_STALL_TIMEOUT": 10.0})
    server = Server(app, "127.0.0.1", 0, threads=8, handlers=tornado_handlers(app))
    server.start()
    ws = websocket.create_connection(
        server.url.replace("http", "ws") + "/ws",
        timeout=10,
        sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 8192),),
    )
    pongs: list[str] = []
    odom: list[int] = []
    images: list[dict[str, object]] = []
    try:
        for topic, length in (("/camera/image_raw", 2), ("/odom", 100)):
            ws.send(json.dumps({"op": "subscribe", "topic": topic, "queue_length": length}))
        while not images:  # both flowing
            opcode, data = ws.recv_data()
            message = json.loads(data)
            if message.get("topic") == "/camera/image_raw":
                images.append(message["msg"])
        for i in range(40):  # without reading
            ws.ping(f"p{i}")
            time.sleep(0.05)
        deadline = time.monotonic() + 30
        while ("p39" not in pongs or len(images) < 20) and time.monotonic() < deadline:
            opcode, data = ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_PONG:
                pongs.append(data.decode())
                continue
            message = json.loads(data)  # a torn frame would not parse (or not be a frame)
            if message.get("topic") == "/odom":
                odom.append(message["msg"]["header"]["seq"])
            elif message.get("topic") == "/camera/image_raw":
                images.append(message["msg"])
    finally:
        ws.close()
        server.stop()
        RosWeb.close(app)
    numbers = [int(p[1:]) for p in pongs]
    assert numbers[-1] == 39
    assert numbers == sorted(set(numbers))
    assert len(images) >= 20
    for image in images:
        assert len(base64.b64decode(str(image["data"]))) == image["height"] * image["step"]  # type: ignore[operator]
    assert len(odom) > 50
    assert odom == sorted(set(odom))
