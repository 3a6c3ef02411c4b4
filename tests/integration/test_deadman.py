"""The deadman, measured with a real subscriber on the command topic: on the simulated robot (a
subscriber on its bus) and on ROS 1 (a rospy node in its own process, on a real master).

The robot must stop (a zero Twist reach the subscriber) within 300 ms of its driver going
silent: the last command (REST teleop at the UI's 10 Hz), or the driver's WebSocket closing.
The figures are printed (``pytest -s``) and kept as test properties.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import websocket

from helpers import LiveServer, RosMaster, wait_for
from rosweb.control import TWIST

pytestmark = pytest.mark.integration

LIMIT = 0.3  # seconds: the bound from silence to a zero Twist at the subscriber
SYSTEM_PYTHON = "/usr/bin/python3"

SUBSCRIBER = """
import sys, time, rospy
from geometry_msgs.msg import Twist
rospy.init_node("deadman_listener", anonymous=True)
def got(msg):
    print("%.6f %r" % (time.time(), msg.linear.x), flush=True)
rospy.Subscriber("/cmd_vel", Twist, got, tcp_nodelay=True)
print("ready", flush=True)
rospy.spin()
"""

Received = list[tuple[float, float]]  # (time received, linear.x)


class Listener:
    """Twists received on /cmd_vel with their arrival time (wall clock, as the test's)."""

    def __init__(self) -> None:
        self.items: Received = []
        self.lock = threading.Lock()

    def add(self, stamp: float, x: float) -> None:
        with self.lock:
            self.items.append((stamp, x))

    def zero_after(self, since: float) -> float | None:
        with self.lock:
            return next((t for t, x in self.items if t >= since and x == 0.0), None)

    def last_moving(self) -> float:
        with self.lock:
            return max(t for t, x in self.items if x != 0.0)

    def moving_count(self) -> int:
        with self.lock:
            return sum(1 for _, x in self.items if x != 0.0)


@pytest.fixture
def sim_robot(serve: Callable[..., LiveServer]) -> Iterator[tuple[LiveServer, Listener]]:
    live = serve()
    listener = Listener()
    with live.graph.subscribe(
        "/cmd_vel", lambda m: listener.add(time.time(), m["linear"]["x"]), TWIST
    ):
        yield live, listener


@pytest.fixture
def ros1_robot(
    serve: Callable[..., LiveServer],
    ros_master: RosMaster,
    processes: list[subprocess.Popen[str]],
) -> tuple[LiveServer, Listener]:
    live = serve({"ROSWEB_BACKEND": "ros1://?linger=0.5"})
    proc = subprocess.Popen(
        [SYSTEM_PYTHON, "-c", SUBSCRIBER], env=ros_master.env(), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    processes.append(proc)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    listener = Listener()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            stamp, x = line.split()
            listener.add(float(stamp), float(x))

    threading.Thread(target=read, daemon=True).start()
    # rospy connects subscribers asynchronously: drive until the listener hears it
    wait_for(lambda: _teleop(live, "stop") and listener.items, timeout=20, interval=0.2)
    time.sleep(0.3)
    return live, listener


def _teleop(live: LiveServer, command: str) -> bool:
    response = requests.post(live.url + "/api/teleop", json={"command": command}, timeout=5)
    return response.status_code == 200


def commands_stop(live: LiveServer, listener: Listener) -> float:
    """Drive at 10 Hz for a second, go silent: seconds from the last moving Twist received to
    the zero Twist received."""
    for _ in range(10):
        assert _teleop(live, "forward")
        time.sleep(0.1)
    silent = time.time()
    stop = wait_for(lambda: listener.zero_after(silent), timeout=3)
    assert listener.moving_count() >= 5  # it did drive, repeatedly, without stopping between
    return stop - listener.last_moving()


def websocket_closes(live: LiveServer, listener: Listener) -> float:
    """Drive over the rosbridge WebSocket, close it: seconds from the close to the zero Twist."""
    ws = websocket.create_connection(live.url.replace("http", "ws") + "/ws", timeout=5)
    moving = {"op": "publish", "topic": "/cmd_vel", "msg": {"linear": {"x": 0.25}}}
    started = time.time()
    ws.send(json.dumps(moving))
    wait_for(lambda: any(t >= started and x for t, x in listener.items), timeout=5)
    ws.send(json.dumps(moving))
    closed = time.time()
    ws.close()
    stop = wait_for(lambda: listener.zero_after(closed), timeout=3)
    return stop - closed


CASES: dict[str, Callable[[LiveServer, Listener], float]] = {
    "commands stop": commands_stop,
    "websocket closes": websocket_closes,
}


def _measure(
    robot: tuple[LiveServer, Listener], case: str, backend: str, record: Callable[..., Any]
) -> None:
    live, listener = robot
    latency = CASES[case](live, listener)
    print(f"\ndeadman on {backend}, {case}: zero Twist {latency * 1000:.0f} ms after silence")
    record(f"deadman_ms[{backend}, {case}]", round(latency * 1000, 1))
    assert 0 <= latency < LIMIT


@pytest.mark.parametrize("case", list(CASES))
def test_deadman_stops_the_sim_robot_within_300_ms(
    sim_robot: tuple[LiveServer, Listener], case: str, record_property: Callable[..., Any]
) -> None:
    _measure(sim_robot, case, "sim", record_property)


@pytest.mark.parametrize("case", list(CASES))
def test_deadman_stops_a_ros1_robot_within_300_ms(
    ros1_robot: tuple[LiveServer, Listener], case: str, record_property: Callable[..., Any]
) -> None:
    _measure(ros1_robot, case, "ros1", record_property)
