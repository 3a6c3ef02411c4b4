"""``rosweb run --workers N``: N web processes, one agent with the one node."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import xmlrpc.client
from pathlib import Path

import pytest
import requests
import websocket

from helpers import RosMaster, free_port, wait_for
from integration.test_processes import BIN, clean_env, start

pytestmark = pytest.mark.integration


def api_up(url: str) -> bool:
    """The API answers (the socket listens from the start; the workers answer once up)."""
    try:
        return requests.get(url + "/api/topics", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def children(pid: int) -> dict[int, str]:
    """Child pid -> command line, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry.name)] = cmdline
    return found


def agent_pid(run_pid: int) -> int | None:
    return next((p for p, cmd in children(run_pid).items() if " agent " in cmd), None)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


class Subscriber:
    """A rosbridge client subscribed to one topic, counting what arrives."""

    def __init__(self, url: str, topic: str) -> None:
        self.ws = websocket.create_connection(url, timeout=10)
        self.ws.send(json.dumps({"op": "subscribe", "topic": topic, "id": "s"}))
        self.count = 0
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                message = json.loads(self.ws.recv())
            except (websocket.WebSocketException, OSError, ValueError):
                return
            if message.get("op") == "publish":
                self.count += 1

    def close(self) -> None:
        self.ws.close()


def test_four_workers_are_one_ros_node(
    ros_master: RosMaster, processes: list[subprocess.Popen[str]]
) -> None:
    port = free_port()
    env = clean_env() | {"ROS_MASTER_URI": ros_master.uri, "ROS_IP": "127.0.0.1"}
    proc = start(processes, [str(BIN / "rosweb"), "run", "--workers", "4", "--port", str(port),
                             "--backend", "ros1://?node=/rosweb_workers"], env=env)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: api_up(url), timeout=60)
    for _ in range(20):  # spread over the workers by the kernel: every one answers the same
        assert "/rosweb_workers" in requests.get(url + "/api/nodes", timeout=10).json()["nodes"]
    wait_for(lambda: len(children(proc.pid)) == 5)  # 4 workers and the agent
    with xmlrpc.client.ServerProxy(ros_master.uri) as master:
        _, _, state = master.getSystemState("/test")
    nodes = {node for kind in state for _, names in kind for node in names}
    assert sorted(n for n in nodes if n.startswith("/rosweb_workers")) == ["/rosweb_workers"]
    pids = list(children(proc.pid))
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "Traceback" not in output
    assert not [pid for pid in pids if alive(pid)]  # no orphan: workers and agent are gone


def test_subscribers_get_messages_again_after_the_agent_restarts(
    processes: list[subprocess.Popen[str]],
) -> None:
    port = free_port()
    proc = start(processes, [str(BIN / "rosweb"), "run", "--workers", "2", "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: api_up(url), timeout=60)
    subscribers = [Subscriber(f"ws://127.0.0.1:{port}/ws", "/odom") for _ in range(4)]
    try:
        wait_for(lambda: all(s.count > 0 for s in subscribers), timeout=20)
        first = agent_pid(proc.pid)
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: requests.get(url + "/api/health", timeout=10).status_code == 503)
        second = wait_for(lambda: agent_pid(proc.pid) not in (None, first) and agent_pid(proc.pid))
        assert second
        wait_for(lambda: requests.get(url + "/api/health", timeout=10).status_code == 200, 20)
        counts = [s.count for s in subscribers]
        wait_for(lambda: all(s.count > c + 10 for s, c in zip(subscribers, counts, strict=True)))
    finally:
        for subscriber in subscribers:
            subscriber.close()
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "restarting it" in output


def test_every_worker_streams_sse_and_mjpeg(processes: list[subprocess.Popen[str]]) -> None:
    port = free_port()
    start(processes, [str(BIN / "rosweb"), "run", "--workers", "2", "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: api_up(url), timeout=60)
    for _ in range(4):  # connections land on either worker
        with requests.get(url + "/api/topics/odom/events", stream=True, timeout=10) as events:
            line = next(line for line in events.iter_lines() if line.startswith(b"data:"))
            assert json.loads(line[5:])["header"]["frame_id"] == "odom"
        with requests.get(url + "/stream/camera/image_raw.mjpg", stream=True, timeout=10) as mjpg:
            chunk = next(mjpg.iter_content(4096))
            assert b"image/jpeg" in chunk


def test_workers_with_a_bad_backend_exit_1_with_one_line() -> None:
    result = subprocess.run([str(BIN / "rosweb"), "run", "--workers", "2", "--backend", "nope://",
                             "--port", str(free_port())], env=clean_env(), capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert result.returncode == 1
    assert "unknown backend 'nope://'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_control_lease_and_deadman_are_shared_by_the_workers(
    processes: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    from rosweb.web.auth import hash_token

    config = tmp_path / "rosweb.toml"
    config.write_text(
        f'[users.alice]\nrole = "operator"\ntokens = ["{hash_token("a")}"]\n'
        f'[users.carol]\nrole = "operator"\ntokens = ["{hash_token("c")}"]\n'
    )
    port = free_port()
    start(processes, [str(BIN / "rosweb"), "run", "--workers", "3", "--port", str(port),
                      "--config", str(config)])  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    alice, carol = {"Authorization": "Bearer a"}, {"Authorization": "Bearer c"}
    wait_for(lambda: api_up_as(url, alice), timeout=60)

    def teleop(who: dict[str, str], command: str = "forward") -> int:
        response = requests.post(url + "/api/teleop", json={"command": command}, headers=who,
                                 timeout=10)  # fmt: skip
        return response.status_code

    for _ in range(6):  # new connections each time: they land on any of the workers
        assert teleop(alice) == 200
        assert teleop(carol) == 409
        state = requests.get(url + "/api/control", headers=carol, timeout=10).json()
        assert state["user"] == "alice"
    # alice goes silent: the agent's one deadman stops the robot, whichever worker she used
    wait_for(lambda: not requests.get(url + "/api/control", headers=carol, timeout=10).json()[
        "moving"], timeout=2)  # fmt: skip


def api_up_as(url: str, headers: dict[str, str]) -> bool:
    try:
        return requests.get(url + "/api/topics", headers=headers, timeout=2).status_code == 200
    except requests.RequestException:
        return False
