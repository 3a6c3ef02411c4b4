"""``kill -9`` of the agent under a moving robot (#12.4): ``rosweb run --workers 2 --backend
ros1://``, a rosbridge client driving at 10 Hz, a rospy subscriber on ``/cmd_vel``.

After the kill the robot gets a zero Twist (the new agent stops it first: the deadman of the
command in flight is honoured by whoever takes over), ``/api/health`` answers 503 while the agent
is gone, and an e-stop engaged before a kill, or before a restart of the whole server, is still
engaged after it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import websocket

from helpers import RosMaster, wait_for
from reliability.procs import Served, clean_env

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's python3-rospy is built for it

LISTENER = """
import sys, time, rospy
from geometry_msgs.msg import Twist
rospy.init_node("cmd_listener", anonymous=True)
def got(msg):
    print("%.3f %s %s" % (time.time(), msg.linear.x, msg.angular.z), flush=True)
rospy.Subscriber("/cmd_vel", Twist, got)
print("ready", flush=True)
rospy.spin()
"""


class Listener:
    """A rospy node subscribed to /cmd_vel: every Twist it gets, with when it got it."""

    def __init__(self, master: RosMaster, directory: Path) -> None:
        script = directory / "listener.py"
        script.write_text(LISTENER)
        self.proc = subprocess.Popen(
            [SYSTEM_PYTHON, str(script)], env=master.env(), text=True, start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"
        self.twists: list[tuple[float, float]] = []  # (time, linear.x)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            parts = line.split()
            if len(parts) == 3:
                self.twists.append((float(parts[0]), float(parts[1])))

    def since(self, moment: float) -> list[float]:
        return [x for t, x in list(self.twists) if t > moment]

    def close(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.communicate()


class Driver:
    """A rosbridge client publishing forward Twists at 10 Hz while ``driving`` is set."""

    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=10)
        self.ws.send(json.dumps({"op": "advertise", "topic": "/cmd_vel",
                                 "type": "geometry_msgs/Twist"}))  # fmt: skip
        self.driving = threading.Event()
        self.driving.set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        twist = {"linear": {"x": 0.5}, "angular": {"z": 0.0}}
        while not self._done.wait(0.1):
            if self.driving.is_set():
                try:
                    self.ws.send(json.dumps({"op": "publish", "topic": "/cmd_vel", "msg": twist}))
                except (websocket.WebSocketException, OSError):
                    return

    def close(self) -> None:
        self._done.set()
        self._thread.join(timeout=5)
        self.ws.close()


def agent_pid(run_pid: int) -> int | None:
    """The pid of ``rosweb run``'s agent child, from /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == run_pid and " agent " in cmdline:
            return int(entry.name)
    return None


def health(server: Served) -> int | str:
    try:
        return server.get("/api/health", timeout=5).status_code
    except requests.RequestException as err:
        return repr(err)


@pytest.fixture
def listener(ros_master: RosMaster, tmp_path: Path) -> Iterator[Listener]:
    listener = Listener(ros_master, tmp_path)
    yield listener
    listener.close()


def kill_agent(server: Served) -> tuple[int, float]:
    """kill -9 the agent; (its pid, when): the first /api/health after it must be a 503."""
    pid = agent_pid(server.pid)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    return pid, time.time()


def test_agent_kill_under_a_moving_robot_stops_it_and_keeps_the_estop(
    ros_master: RosMaster,
    listener: Listener,
    processes: list[subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    env = clean_env(ROS_MASTER_URI=ros_master.uri, ROS_IP="127.0.0.1")
    args = ["--workers", "2", "--backend", "ros1://"]
    server = Served(processes, *args, env=env)
    driver = Driver(server.ws)
    try:
        # the robot moves: the subscriber sees the driver's Twists
        wait_for(lambda: 0.5 in listener.since(0), timeout=20)
        first, killed = kill_agent(server)
        driver.driving.clear()  # the client's robot is gone: it stops sending
        samples = []

        def back() -> bool:
            samples.append(health(server))
            pid = agent_pid(server.pid)
            return pid not in (None, first) and samples[-1] == 200

        wait_for(back, timeout=30, interval=0.05)
        assert 503 in samples, samples  # health tells the agent was gone (it said 200)
        # the new agent stopped the robot the killed one left moving
        wait_for(lambda: 0.0 in listener.since(killed), timeout=10)
        assert listener.since(killed)[-1] == 0.0

        # an e-stop engaged before a kill is still engaged after it (both workers in session
        # again first: a connection lands on either)
        wait_for(lambda: all(health(server) == 200 for _ in range(6)), timeout=20)
        engaged = server.post("/api/estop")
        assert engaged.status_code == 200
        assert engaged.json()["estop"] is not None
        second, killed = kill_agent(server)
        wait_for(lambda: agent_pid(server.pid) not in (None, second) and health(server) == 200,
                 timeout=30, interval=0.05)  # fmt: skip
        # both workers are back in session (a connection lands on either)
        wait_for(lambda: all(health(server) == 200 for _ in range(6)), timeout=20)
        state = server.get("/api/estop").json()
        assert state["estop"] is not None, state
        refused = server.post("/api/teleop", {"command": "forward"})
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "estop_engaged"
        wait_for(lambda: 0.0 in listener.since(killed + 0.5), timeout=10)  # stops go on
        assert 0.5 not in listener.since(killed)
    finally:
        driver.close()

    # ...and after a restart of the whole server
    output = server.stop()
    assert "Traceback" not in output
    again = Served(processes, *args, env=env, port=server.port)  # the latch is per robot: port
    state = again.get("/api/estop").json()
    assert state["estop"] is not None, state
    refused = again.post("/api/teleop", {"command": "forward"})
    assert refused.json()["error"]["code"] == "estop_engaged"
    assert requests.delete(again.url + "/api/estop", timeout=10).status_code == 200
    assert again.post("/api/teleop", {"command": "forward"}).status_code == 200
    again.stop()


def test_a_restarted_single_server_stops_the_robot_first(
    ros_master: RosMaster, listener: Listener, processes: list[subprocess.Popen[str]]
) -> None:
    """``rosweb run`` killed while driving, then started again: its first act is a stop."""
    env = clean_env(ROS_MASTER_URI=ros_master.uri, ROS_IP="127.0.0.1")
    server = Served(processes, "--backend", "ros1://", env=env)
    driver = Driver(server.ws)
    try:
        wait_for(lambda: 0.5 in listener.since(0), timeout=20)
        os.killpg(server.pid, signal.SIGKILL)
        killed = time.time()
    finally:
        driver.close()
    server.proc.wait()
    Served(processes, "--backend", "ros1://", env=env, port=server.port)
    wait_for(lambda: 0.0 in listener.since(killed), timeout=10)
    assert listener.since(killed)[-1] == 0.0
