"""A flood of long-polls on a silent topic (#12.2) never freezes the REST API: past
``ROSWEB_MAX_WAITING_READS`` (8) a waiting read gets 503 ``too_many_waiting_reads`` at once, so
health, the e-stop and a teleop stop keep answering while 40 reads wait (they each held one of
the 32 WSGI threads for their whole timeout, and a stop took 27.9 s)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest
import requests
import websocket

from helpers import wait_for
from reliability.procs import Served

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

FLOOD = 40
WAIT = 8  # seconds each long-poll asks to wait


@pytest.mark.parametrize("kind", ["rosweb", "flask"])
def test_a_long_poll_flood_leaves_the_stop_and_the_estop_answering(
    kind: str, module_servers: Callable[..., Served]
) -> None:
    server = module_servers(kind=kind)
    # an existing but silent topic: advertised by a client that never publishes on it
    publisher = websocket.create_connection(server.ws, timeout=10)
    try:
        publisher.send(json.dumps({"op": "advertise", "topic": "/silent",
                                   "type": "std_msgs/String"}))  # fmt: skip
        wait_for(lambda: {"name": "/silent", "type": "std_msgs/String"}
                 in server.get("/api/topics").json()["topics"], timeout=10)  # fmt: skip
        answers: list[int] = []
        codes: list[str] = []

        def long_poll() -> None:
            try:
                reply = server.get(f"/api/topics/silent?timeout={WAIT}", timeout=WAIT + 30)
            except requests.RequestException as err:
                codes.append(type(err).__name__)
                return
            answers.append(reply.status_code)
            codes.append(reply.json()["error"]["code"])

        polls = [threading.Thread(target=long_poll) for _ in range(FLOOD)]
        for poll in polls:
            poll.start()
        time.sleep(1.5)  # the flood is on (40 requests in flight)
        # what must never wait behind reads does not (a request that hangs times out here)
        for _ in range(3):
            assert server.get("/api/health", timeout=5).status_code == 200
            assert server.post("/api/teleop", {"command": "stop"}, timeout=5).status_code == 200
            engaged = server.post("/api/estop", timeout=5)
            assert engaged.status_code == 200
            assert engaged.json()["estop"] is not None
            refused = server.post("/api/teleop", {"command": "forward"}, timeout=5)
            assert refused.json()["error"]["code"] == "estop_engaged"
            assert requests.delete(server.url + "/api/estop", timeout=5).status_code == 200
        # every read past the bound was refused at once
        assert codes.count("too_many_waiting_reads") == FLOOD - 8, codes
        for poll in polls:
            poll.join(timeout=WAIT + 40)
        assert len(codes) == FLOOD
        assert codes.count("too_many_waiting_reads") == FLOOD - 8, codes
        assert codes.count("no_message") == 8, codes  # the ones that waited, answered in time
        assert sorted(set(answers)) == [404, 503]
    finally:
        publisher.close()
