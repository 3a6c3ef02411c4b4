"""The event-loop rule, measured: a stalled ROS master holds up only the clients waiting on it.

The issue's session as a test: ``rosweb run`` on ``ros1://``, ten WebSocket clients receiving a
20 Hz topic of a peer, then the master stopped with SIGSTOP for 4 s while an eleventh client
subscribes to a new topic, advertises one and lists topics through rosapi. The ten keep receiving
at the source's rate, ``/api/health`` keeps answering within 1 s, and the eleventh client's ops
complete once the master continues.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
import requests
import websocket

from helpers import LiveServer, RosMaster, wait_for
from rosweb.server import Server
from rosweb.server.handlers import tornado_handlers
from rosweb.web import RosWeb, create_app

pytestmark = pytest.mark.integration

RATE = 20.0  # Hz of the peer's topic
STALL = 4.0  # seconds the master is stopped
HEALTH_BOUND = 1.0  # seconds /api/health may take while the master is stopped


@pytest.fixture
def ros1_live(ros_master: RosMaster) -> Iterator[LiveServer]:
    app = create_app({"TESTING": True, "ROSWEB_BACKEND": "ros1://?linger=0.5"})
    server = Server(app, "127.0.0.1", 0, threads=16, handlers=tornado_handlers(app))
    server.start()
    yield LiveServer(app, server, None)
    server.stop()
    RosWeb.close(app)


class Counter:
    """A WebSocket client counting the frames of one topic on a thread of its own."""

    def __init__(self, url: str, topic: str) -> None:
        self.ws = websocket.create_connection(url, timeout=10)
        self.ws.send(json.dumps({"op": "subscribe", "topic": topic}))
        self.times: list[float] = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.ws.settimeout(0.5)
        while not self.stop:
            try:
                frame = self.ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except Exception:
                return
            if '"op":"publish"' in frame:
                self.times.append(time.monotonic())

    def between(self, start: float, end: float) -> int:
        return sum(start <= t < end for t in self.times)

    def close(self) -> None:
        self.stop = True
        self.thread.join(timeout=5)
        self.ws.close()


def test_a_stopped_master_stalls_only_the_client_that_waits_on_it(
    ros1_live: LiveServer, ros_master: RosMaster, processes: list[subprocess.Popen[str]]
) -> None:
    peer = subprocess.Popen(
        ["rostopic", "pub", "-r", str(RATE), "/stall_feed", "std_msgs/String", "data: tick"],
        env=ros_master.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, text=True,
    )  # fmt: skip
    processes.append(peer)
    ws_url = ros1_live.url.replace("http", "ws") + "/ws"
    wait_for(lambda: "/stall_feed" in requests.get(ros1_live.url + "/api/topics", timeout=5).text,
             timeout=20)  # fmt: skip
    counters = [Counter(ws_url, "/stall_feed") for _ in range(10)]
    try:
        wait_for(lambda: all(len(c.times) >= 3 for c in counters), timeout=20)
        blocked = websocket.create_connection(ws_url, timeout=30)
        os.kill(ros_master.proc.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        try:
            blocked.send(json.dumps({"op": "subscribe", "id": "s", "topic": "/not_yet_there",
                                     "type": "std_msgs/String"}))  # fmt: skip
            blocked.send(json.dumps({"op": "advertise", "id": "a", "topic": "/stall_adv",
                                     "type": "std_msgs/String"}))  # fmt: skip
            blocked.send(json.dumps({"op": "call_service", "id": "t",
                                     "service": "/rosapi/topics"}))  # fmt: skip
            health_times: list[float] = []
            while time.monotonic() - stopped_at < STALL:
                began = time.monotonic()
                answer = requests.get(ros1_live.url + "/api/health", timeout=10)
                health_times.append(time.monotonic() - began)
                assert answer.status_code in (200, 503), answer.text
                time.sleep(0.2)
            window = (stopped_at + 0.5, stopped_at + STALL)
        finally:
            os.kill(ros_master.proc.pid, signal.SIGCONT)
        seconds = window[1] - window[0]
        received = [c.between(*window) for c in counters]
        # the ten clients kept receiving at the source's rate (allowing for scheduling jitter)
        assert all(n >= RATE * seconds * 0.6 for n in received), (received, RATE * seconds)
        assert max(health_times) < HEALTH_BOUND, health_times
        # once the master continues, the blocked client's ops complete: the rosapi answer comes
        blocked.settimeout(30)
        answered = False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not answered:
            message = json.loads(blocked.recv())
            if message.get("op") == "service_response" and message.get("id") == "t":
                answered = True
                assert message["result"] is True, message
                assert "/stall_feed" in message["values"]["topics"]
        assert answered
        blocked.close()
    finally:
        for counter in counters:
            counter.close()
