"""Existing rosbridge clients work against rosweb unchanged: roslibjs (npm `roslib` under node)
and roslibpy (PyPI), each run in its own process through the same sequence of checks
(tests/clients): topics, subscribe, publish loopback, services, params, a client-provided
service, unsubscribe. On the simulated robot and on ROS 1 (a rospy peer plays the robot).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from helpers import RosMaster, wait_for
from rosweb.server import Server
from rosweb.server.handlers import tornado_handlers
from rosweb.web import RosWeb, create_app

pytestmark = pytest.mark.integration

CLIENTS = Path(__file__).parents[1] / "clients"
JS = CLIENTS / "js"
RUN_TIMEOUT = 90

ROBOT = """
import rospy
from nav_msgs.msg import Odometry
from std_srvs.srv import Trigger, TriggerResponse

rospy.init_node("fake_robot")
pub = rospy.Publisher("/odom", Odometry, queue_size=10)
rospy.Service("/reset", Trigger, lambda req: TriggerResponse(success=True, message="reset"))
print("ready", flush=True)
rate = rospy.Rate(20)
while not rospy.is_shutdown():
    msg = Odometry()
    msg.header.stamp = rospy.Time.now()
    msg.header.frame_id = "odom"
    pub.publish(msg)
    rate.sleep()
"""


@pytest.fixture(params=["sim", "ros1"])
def rosbridge_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    robot = None
    if request.param == "ros1":
        master: RosMaster = request.getfixturevalue("ros_master")
        script = tmp_path / "robot.py"
        script.write_text(ROBOT)
        robot = subprocess.Popen(["/usr/bin/python3", str(script)], env=master.env(),
                                 stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert robot.stdout is not None
        assert robot.stdout.readline().strip() == "ready"
    backend = "sim://" if request.param == "sim" else "ros1://"
    app = create_app({"TESTING": True, "ROSWEB_BACKEND": backend})
    server = Server(app, "127.0.0.1", 0, threads=8, handlers=tornado_handlers(app))
    server.start()
    wait_for(lambda: "/odom" in requests.get(server.url + "/api/topics", timeout=5).text)
    yield server.url.replace("http", "ws") + "/ws"
    server.stop()
    RosWeb.close(app)
    if robot is not None:
        robot.terminate()
        robot.communicate(timeout=10)


def run_client(args: list[str], cwd: Path | None = None) -> list[dict[str, Any]]:
    """Run a client's check sequence; every check must pass."""
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    report = f"{' '.join(args)}\nrc={result.returncode}\n{result.stdout}\n{result.stderr[-4000:]}"
    assert result.returncode == 0, report
    assert lines, report
    assert lines[-1]["check"] == "summary", report
    assert lines[-1]["ok"] is True, report
    assert not [line for line in lines if line.get("ok") is False], report
    return lines


def test_roslibjs(rosbridge_url: str) -> None:
    if shutil.which("node") is None or not (JS / "node_modules" / "roslib").is_dir():
        pytest.fail("roslibjs is not installed: `make test` runs `npm ci` in tests/clients/js")
    checks = run_client(["node", "conformance.mjs", rosbridge_url], cwd=JS)
    names = {line["check"] for line in checks}
    assert {
        "get_topics",
        "subscribe_receive_3",
        "call_service_trigger",
        "advertise_service",
    } <= names


def test_roslibpy(rosbridge_url: str) -> None:
    checks = run_client(
        [sys.executable, str(CLIENTS / "py" / "roslibpy_sequence.py"), rosbridge_url]
    )
    names = {line["check"] for line in checks}
    assert {
        "get_topics",
        "subscribe_receive_3",
        "call_service_trigger",
        "advertise_service",
    } <= names


def test_rosapi_params_seen_by_both_sides(rosbridge_url: str) -> None:
    """What roslibpy's Param.set writes, rosweb's REST API reads (the same parameter server)."""
    script = (
        "import os, roslibpy\n"
        f"ros = roslibpy.Ros({rosbridge_url!r}); ros.run()\n"
        "roslibpy.Param(ros, '/third_party/answer').set(42)\n"
        "print(roslibpy.Param(ros, '/third_party/answer').get())\n"
        "os._exit(0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip().splitlines()[-1] == "42", result.stderr[-2000:]
    http = rosbridge_url.replace("ws", "http", 1).removesuffix("/ws")
    assert requests.get(http + "/api/params/third_party/answer", timeout=5).json() == 42
