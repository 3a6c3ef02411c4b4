"""The client commands (`rosweb echo|pub|call|param|teleop`) as a user runs them, against real
servers on loopback; teleop through a pseudo-terminal."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from helpers import LiveServer, free_port, wait_for
from rosweb.server import Server
from rosweb.server.handlers import tornado_handlers
from rosweb.web import RosWeb, create_app

pytestmark = pytest.mark.integration

ROSWEB = str(Path(sys.executable).parent / "rosweb")


def rosweb(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROSWEB_")}
    return subprocess.run([ROSWEB, *args], capture_output=True, text=True, timeout=timeout, env=env)


def odom(url: str) -> dict[str, Any]:
    msg: dict[str, Any] = requests.get(url + "/api/topics/odom", timeout=5).json()["msg"]
    return msg


def test_echo_prints_yaml_messages_separated_like_rostopic(live_server: LiveServer) -> None:
    result = rosweb("echo", "/odom", "-n", "2", "--url", live_server.url)
    assert result.returncode == 0, result.stderr
    documents = result.stdout.split("---\n")
    assert len(documents) == 3
    assert documents[2] == ""
    assert documents[0].startswith("header:\n  seq: ")
    assert "  stamp:\n    secs: " in documents[0]
    assert "child_frame_id: base_link\n" in documents[0]
    assert "covariance: [0.0, 0.0," in documents[0]  # arrays of numbers on one line


def test_echo_json_lines_keep_bytes_as_base64(live_server: LiveServer) -> None:
    result = rosweb("echo", "camera/image_raw", "-n", "1", "--json", "--url", live_server.url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    image = json.loads(lines[0])
    assert isinstance(image["data"], str)
    assert image["encoding"] == "rgb8"


def test_pub_yaml_or_json_and_a_new_topic_with_its_type(live_server: LiveServer) -> None:
    url = live_server.url
    result = rosweb("pub", "/chatter", "std_msgs/String", "data: hi", "--latch", "--url", url)
    assert result.returncode == 0, result.stderr
    latest = requests.get(url + "/api/topics/chatter", timeout=5).json()
    assert latest["msg"] == {"data": "hi"}
    result = rosweb("pub", "/chatter", '{"data": "json too"}', "--url", url)
    assert result.returncode == 0, result.stderr
    wait_for(lambda: requests.get(url + "/api/topics/chatter", timeout=5).json()["msg"]["data"]
             == "json too")  # fmt: skip


def test_pub_at_a_rate_drives_until_interrupted(live_server: LiveServer) -> None:
    url = live_server.url
    requests.post(url + "/api/services/reset", json={}, timeout=5)
    start = odom(url)["pose"]["pose"]["position"]["x"]
    proc = subprocess.Popen(
        [ROSWEB, "pub", "/cmd_vel", "{linear: {x: 0.3}}", "--rate", "10", "--url", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # the deadman stops a motion after 0.5 s unless repeated: a moved robot proves repeats
        wait_for(lambda: odom(url)["pose"]["pose"]["position"]["x"] > start + 0.3, timeout=20)
    finally:
        proc.send_signal(2)  # Ctrl-C
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "publishing to /cmd_vel at 10 Hz" in err


def test_call_prints_the_response(live_server: LiveServer) -> None:
    result = rosweb("call", "/robot/headlights", "{data: true}", "--url", live_server.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "success: true\nmessage: headlights on\n"
    result = rosweb("call", "/reset", "--json", "--url", live_server.url)
    assert json.loads(result.stdout)["success"] is True


def test_param_list_get_set_delete(live_server: LiveServer) -> None:
    url = live_server.url
    listed = rosweb("param", "list", "/robot", "--url", url).stdout.splitlines()
    assert "/robot/max_linear_speed" in listed
    assert all(name.startswith("/robot/") for name in listed)
    assert rosweb("param", "set", "/robot/max_linear_speed", "0.4", "--url", url).returncode == 0
    assert rosweb("param", "get", "/robot/max_linear_speed", "--url", url).stdout == "0.4\n"
    assert rosweb("param", "set", "/mine", "{gains: [1, 2]}", "--url", url).returncode == 0
    assert rosweb("param", "get", "/mine", "--json", "--url", url).stdout == '{"gains":[1,2]}\n'
    assert rosweb("param", "delete", "/mine", "--url", url).returncode == 0
    missing = rosweb("param", "get", "/mine", "--url", url)
    assert (missing.returncode, missing.stderr) == (1, "rosweb: error: no param '/mine'\n")


def test_errors_are_one_line_and_exit_1(live_server: LiveServer) -> None:
    url = live_server.url
    bad = rosweb("pub", "/cmd_vel", "{linear: {x: fast}}", "--url", url)
    assert bad.returncode == 1
    assert bad.stderr == 'rosweb: error: field linear.x: expects float64, got "fast"\n'
    down = rosweb("echo", "/odom", "--url", f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 1
    assert down.stderr.startswith("rosweb: error: cannot reach ")
    assert len(down.stderr.splitlines()) == 1


# -- teleop through a pseudo-terminal -------------------------------------------------------------


@pytest.fixture
def slow_deadman() -> Iterator[str]:
    """A server whose deadman waits 30 s: only the teleop command itself can stop the robot."""
    app = create_app({"TESTING": True, "ROSWEB_TELEOP_TIMEOUT": 30.0})
    server = Server(app, "127.0.0.1", 0, threads=8, handlers=tornado_handlers(app))
    server.start()
    yield server.url
    server.stop()
    RosWeb.close(app)


def _controlling_terminal() -> None:
    import fcntl
    import termios

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # in the child, after setsid: stdin is its terminal


class Terminal:
    """`rosweb teleop` on a pseudo-terminal: type keys, read the screen."""

    def __init__(self, url: str) -> None:
        self.master, slave = os.openpty()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROSWEB_")}
        self.proc = subprocess.Popen(
            [ROSWEB, "teleop", "--url", url, "--release-timeout", "0.6"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            preexec_fn=_controlling_terminal,  # so that Ctrl-C is a SIGINT, as in a terminal
        )
        os.close(slave)
        self.screen = b""

    def read(self) -> str:
        while select.select([self.master], [], [], 0.05)[0]:
            try:
                self.screen += os.read(self.master, 4096)
            except OSError:  # the other side closed
                break
        return self.screen.decode(errors="replace")

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        os.close(self.master)


@pytest.fixture
def terminal(slow_deadman: str) -> Iterator[Terminal]:
    term = Terminal(slow_deadman)
    wait_for(lambda: "q quits" in term.read(), timeout=20)
    yield term
    term.close()


def moving(url: str) -> bool:
    return bool(odom(url)["twist"]["twist"]["linear"]["x"] != 0.0)


def test_teleop_drives_while_a_key_repeats_and_stops_on_release(
    slow_deadman: str, terminal: Terminal
) -> None:
    url = slow_deadman
    start = odom(url)["pose"]["pose"]["position"]["x"]

    def hold_up_arrow() -> bool:  # the terminal's auto-repeat of a held key
        terminal.type(b"\x1b[A")
        time.sleep(0.05)
        return odom(url)["pose"]["pose"]["position"]["x"] > start + 0.05

    wait_for(hold_up_arrow, timeout=20)
    assert moving(url)
    # the key is let go: no more repeats; the deadman waits 30 s, so only teleop stops it
    wait_for(lambda: not moving(url), timeout=10)
    assert "stop" in terminal.read().rsplit("forward", 1)[1]
    terminal.type(b"q")
    assert terminal.proc.wait(timeout=10) == 0
    assert "stopped" in terminal.read()


def test_teleop_turns_with_wasd_and_stops_when_quit_while_moving(
    slow_deadman: str, terminal: Terminal
) -> None:
    url = slow_deadman

    def turning() -> bool:
        terminal.type(b"a")
        time.sleep(0.05)
        return bool(odom(url)["twist"]["twist"]["angular"]["z"] > 0)

    wait_for(turning, timeout=20)
    terminal.type(b"a")
    terminal.type(b"q")  # quit while the key is still held
    assert terminal.proc.wait(timeout=10) == 0
    wait_for(lambda: odom(url)["twist"]["twist"]["angular"]["z"] == 0.0, timeout=10)


def test_teleop_stops_on_ctrl_c(slow_deadman: str, terminal: Terminal) -> None:
    url = slow_deadman

    def forward() -> bool:
        terminal.type(b"w")
        time.sleep(0.05)
        return moving(url)

    wait_for(forward, timeout=20)
    terminal.type(b"\x03")  # the terminal turns it into SIGINT
    assert terminal.proc.wait(timeout=10) == 0
    wait_for(lambda: not moving(url), timeout=10)


def test_teleop_needs_a_terminal(live_server: LiveServer) -> None:
    result = subprocess.run(
        [ROSWEB, "teleop", "--url", live_server.url],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "run it in a terminal" in result.stderr


def test_pub_to_an_unknown_topic_says_to_give_its_type(live_server: LiveServer) -> None:
    result = rosweb("pub", "/brand_new", "data: 1", "--url", live_server.url)
    assert result.returncode == 1
    assert result.stderr == (
        "rosweb: error: no topic /brand_new: give its type to create it "
        "(rosweb pub /brand_new TYPE MSG)\n"
    )


def test_param_delete_leaves_no_empty_namespace(live_server: LiveServer) -> None:
    url = live_server.url
    assert rosweb("param", "set", "/my/gain", "0.5", "--url", url).returncode == 0
    assert rosweb("param", "delete", "/my/gain", "--url", url).returncode == 0
    names = rosweb("param", "list", "--url", url).stdout.split()
    assert "/my" not in names
    assert "/robot/scan_rate" in names


def test_help_shows_whole_descriptions() -> None:
    env = {**os.environ, "COLUMNS": "80"}
    result = subprocess.run([ROSWEB, "--help"], capture_output=True, text=True, env=env,
                            timeout=30)  # fmt: skip
    commands = result.stdout.split("Commands:")[1]
    assert "..." not in commands
    assert "new topic." in commands  # the end of pub's line, which click cut off


@pytest.mark.parametrize("level", ["info", "debug"])
def test_run_logs_requests_only_at_debug(level: str) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROSWEB_")}
    proc = subprocess.Popen(
        [ROSWEB, "run", "--port", str(port), "--log-level", level],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(url), timeout=30, interval=0.2)
        for _ in range(5):
            requests.get(url + "/api/control", timeout=5)
    finally:
        proc.send_signal(2)
        out, _ = proc.communicate(timeout=20)
    access = [line for line in out.splitlines() if "GET /api/control" in line]
    assert len(access) == (5 if level == "debug" else 0), out


def _up(url: str) -> bool:
    try:
        return requests.get(url + "/api/", timeout=1).ok
    except requests.ConnectionError:
        return False
