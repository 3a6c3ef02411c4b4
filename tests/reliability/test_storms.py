"""Connection storms on both transports (``rosweb run``: Tornado; ``flask run``: Werkzeug and
flask-sock): waves of rosbridge clients (subscribing, then leaving cleanly or dropping the
socket), event streams and camera viewers. After each wave the server is back where it was:
no hub consumer, thread or descriptor left over, and memory does not grow from wave to wave."""

from __future__ import annotations

import gc
import http.client
import json
import socket
import struct
import threading
from collections.abc import Callable

import pytest
import websocket

from helpers import wait_for
from reliability.procs import Figures, Served

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

CLIENTS = 60  # rosbridge clients at once in a wave
STREAMS = 10  # event streams and camera viewers at once in a wave
WAVES = 3


def consumers(server: Served) -> int:
    """Hub consumers of every feed (what subscribers hold on the robot side)."""
    feeds = server.get("/api/health").json()["feeds"]
    return sum(int(feed["consumers"]) for feed in feeds.values())


def rosbridge_client(server: Served, n: int) -> None:
    ws = websocket.create_connection(server.ws, timeout=20)
    for topic in ("/odom", "/scan", "/battery"):
        ws.send(json.dumps({"op": "subscribe", "topic": topic, "id": f"{topic}{n}"}))
    assert json.loads(ws.recv())["op"] == "publish"
    if n % 2:
        ws.close()  # a clean close handshake
    else:  # a dropped connection: a reset, no close frame
        ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        ws.sock.close()


def stream_client(server: Served, path: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    connection.request("GET", path)
    response = connection.getresponse()
    assert response.status == 200
    response.read(1024)
    connection.close()


def wave(server: Served) -> None:
    errors: list[BaseException] = []

    def run(target: Callable[..., None], *args: object) -> None:
        try:
            target(*args)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=run, args=(rosbridge_client, server, n))
               for n in range(CLIENTS)]  # fmt: skip
    for n in range(STREAMS):
        path = "/api/topics/odom/events" if n % 2 else "/stream/camera/image_raw.mjpg"
        threads.append(threading.Thread(target=run, args=(stream_client, server, path)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors[:3]


#: threads a server runs whatever its load: loop, robot, hub, deadman, e-stop, ...
FIXED_THREADS = 12
WSGI_THREADS = 8  # rosweb run --threads
BRIDGE_POOL = 32  # RosWebState.executor: what may block, off the loop


@pytest.mark.parametrize("kind", ["rosweb", "flask"])
def test_connection_storms_leave_nothing_behind(
    kind: str, module_servers: Callable[..., Served]
) -> None:
    server = module_servers(*(["--threads", str(WSGI_THREADS)] if kind == "rosweb" else []),
                            kind=kind)  # fmt: skip
    # rosweb run's pools grow up to their bounds and stay; flask run's request threads end
    bound = FIXED_THREADS + (WSGI_THREADS + BRIDGE_POOL if kind == "rosweb" else 0)
    wave(server)  # the first wave warms up what is made once (pools, caches, encoders)
    wait_for(lambda: consumers(server) == 0, timeout=20)
    samples: list[Figures] = [server.figures()]
    for _ in range(WAVES):
        wave(server)
        # every subscriber's consumer is gone (the hub's own cache subscriptions stay)
        wait_for(lambda: consumers(server) == 0, timeout=20)
        first = samples[0]
        wait_for(lambda: server.figures().threads <= bound, timeout=20, interval=0.2)
        gc.collect()  # ours, not the server's: only what the test itself holds
        wait_for(lambda f=first: server.figures().fds <= f.fds + 4, timeout=20,  # type: ignore[misc]
                 interval=0.2)  # fmt: skip
        samples.append(server.figures())
    assert max(s.threads for s in samples) <= bound, samples
    growth = samples[-1].rss - samples[0].rss
    assert growth < 25, samples  # MiB over three waves: nothing accumulates
    assert "Traceback" not in server.output()
