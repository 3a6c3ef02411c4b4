"""ROS 2 behind the agent: ``rosweb run --workers 2 --backend ros2://...`` (one agent process holds
the ROS 2 node, two web workers share it) with the ROS 2 sim taking TwistStamped on /cmd_vel
(``rosweb sim --ros2 --stamped``, as Nav2 on Jazzy does).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from test_ros2_session import _get, _start, _stop, _topics, drive_forward

from helpers import free_port, wait_for
from rosweb.graph.ros2 import Ros2Graph

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stamped() -> Iterator[tuple[str, int]]:
    """The stamped ROS 2 sim with the router, and rosweb with two workers on an agent."""
    router, web = free_port(), free_port()
    robot = _start([sys.executable, "-m", "rosweb.cli", "sim", "--ros2", "--stamped",
                    "--url", f"ros2://127.0.0.1:{router}?router=embedded"])  # fmt: skip
    rosweb: subprocess.Popen[str] | None = None
    try:
        assert robot.stdout is not None
        assert "ROS 2 node /robot" in robot.stdout.readline()  # its router listens now
        backend = f"ros2://127.0.0.1:{router}"
        rosweb = _start([sys.executable, "-m", "rosweb.cli", "run", "--workers", "2",
                         "--backend", backend, "--port", str(web)])  # fmt: skip
        url = f"http://127.0.0.1:{web}"
        wait_for(lambda: "/odom" in _topics(url), timeout=40)
        yield url, router
    finally:
        outputs = [_stop(p) for p in (rosweb, robot) if p is not None]
        assert all("Traceback" not in out for out in outputs), outputs


def test_workers_speak_ros2_types_through_the_agent(stamped: tuple[str, int]) -> None:
    url, _ = stamped
    topics = _topics(url)
    assert topics["/cmd_vel"] == "geometry_msgs/msg/TwistStamped"
    assert topics["/odom"] == "nav_msgs/msg/Odometry"
    # a ROS 2 schema, not ROS 1's (no seq, {sec, nanosec}), answered at once
    header = requests.get(url + "/api/types/std_msgs/msg/Header", timeout=5).json()
    assert [f["name"] for f in header["fields"]] == ["stamp", "frame_id"]
    assert header["type_hash"].startswith("RIHS01_")
    # a new topic of a ROS 2 type, named in its ROS 2 form
    answer = requests.post(url + "/api/topics/agent_chatter?type=std_msgs/msg/String",
                           json={"data": "hi"}, timeout=5)  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["type"] == "std_msgs/msg/String"
    odom = wait_for(lambda: _get(url, "/api/topics/odom"), timeout=10)
    assert set(odom["msg"]["header"]["stamp"]) == {"sec", "nanosec"}


def test_teleop_drives_a_twist_stamped_robot_clamped_stamped_and_stopped(
    stamped: tuple[str, int],
) -> None:
    url, router = stamped
    peer = Ros2Graph(f"ros2://127.0.0.1:{router}?node=/cmd_vel_watcher")
    seen: list[tuple[float, dict[str, Any]]] = []
    lock = threading.Lock()

    def on_cmd(msg: dict[str, Any]) -> None:
        with lock:
            seen.append((time.time(), msg))

    try:
        peer.subscribe("/cmd_vel", on_cmd, "geometry_msgs/msg/TwistStamped")
        wait_for(lambda: "/cmd_vel_watcher" in (_get(url, "/api/nodes") or {}).get("nodes", []),
                 timeout=15)  # fmt: skip
        assert drive_forward(url, settle=0.5) > 0.2  # the robot that takes only TwistStamped moved
        # a TwistStamped sent by a client is clamped like a Twist
        fast = {"header": {"frame_id": "base_link"}, "twist": {"linear": {"x": 5.0}}}
        sent = requests.post(url + "/api/topics/cmd_vel", json=fast, timeout=5)
        assert sent.status_code == 200, sent.text
        assert sent.json()["msg"]["twist"]["linear"]["x"] == 1.0

        def stopped_after_the_clamped_one() -> bool:  # not the stop of drive_forward before it
            with lock:
                xs = [m["twist"]["linear"]["x"] for _, m in seen]
            return 1.0 in xs and xs[-1] == 0.0 and xs.index(1.0) < len(xs) - 1

        wait_for(stopped_after_the_clamped_one, timeout=5)
        with lock:
            moves = [(t, m) for t, m in seen if m["twist"]["linear"]["x"] != 0.0]
            last = seen[-1][1]
        assert moves
        assert max(m["twist"]["linear"]["x"] for _, m in moves) == 1.0
        for received, msg in moves:  # each stamped when published, in base_link
            stamp = msg["header"]["stamp"]["sec"] + msg["header"]["stamp"]["nanosec"] / 1e9
            assert abs(received - stamp) < 2.0
            assert msg["header"]["frame_id"] == "base_link"
        assert last["twist"]["angular"]["z"] == 0.0  # the deadman's stop, stamped too
        assert last["header"]["stamp"]["sec"] > 1_600_000_000
    finally:
        peer.close()
