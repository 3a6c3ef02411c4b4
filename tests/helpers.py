"""Helpers shared across the suite."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask

from rosweb.graph import Graph
from rosweb.server import Server
from rosweb.web import RosWebState

T = TypeVar("T")


@dataclass
class Endpoint:
    """A served app: its HTTP and WebSocket URLs, its rosweb state, and which transport."""

    url: str  # http://host:port
    ws: str  # ws://host:port/ws
    state: RosWebState
    transport: str
    graph: Graph  # the backend, as the test (a peer of the robot) holds it


class LiveServer:
    def __init__(self, app: Flask, server: Server, graph: Graph | None) -> None:
        self.app = app
        self.server = server
        self._graph = graph
        self.url = server.url

    @property
    def state(self) -> RosWebState:
        return self.app.extensions["rosweb"]

    @property
    def graph(self) -> Graph:
        """The backend, as the test (a peer of the robot) holds it (sim only)."""
        assert self._graph is not None, "this server's app made its backend itself"
        return self._graph


def assert_error(
    response: Any, status: int, code: str | None = None, field: str | None = None
) -> dict[str, Any]:
    """The response is rosweb's one JSON error shape with this status (and code, field)."""
    body = response.json() if callable(getattr(response, "json", None)) else response.json
    assert response.status_code == status, (response.status_code, body)
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["code"], str)
    assert error["code"]
    assert isinstance(error["message"], str)
    assert error["message"]
    assert set(error) <= {"code", "message", "field", "holder"}, error
    if code is not None:
        assert error["code"] == code, error
    if field is not None:
        assert error.get("field") == field, error
    return dict(error)


def wait_for(predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.02) -> T:
    """Poll until ``predicate()`` is truthy; returns its value or fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RosMaster:
    """A private ROS 1 master (``rosmaster --core``) on a free port, never 11311."""

    def __init__(self) -> None:
        import shutil

        self.executable = shutil.which("rosmaster")
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: Any = None

    def env(self) -> dict[str, str]:
        import os

        return os.environ | {"ROS_MASTER_URI": self.uri, "ROS_IP": "127.0.0.1"}

    def is_up(self) -> bool:
        import xmlrpc.client

        try:
            with xmlrpc.client.ServerProxy(self.uri) as master:
                master.getPid("/test")
        except OSError:
            return False
        return True

    def start(self) -> None:
        import subprocess

        assert self.executable is not None
        self.proc = subprocess.Popen(
            [self.executable, "--core", "-p", str(self.port)],
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(self.is_up, timeout=20)

    def kill(self) -> None:
        import os
        import signal

        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        wait_for(lambda: not self.is_up(), timeout=10)


class Inbox:
    """A subscriber callback collecting messages from a middleware thread."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, msg: dict[str, Any]) -> None:
        with self._lock:
            self.items.append(msg)

    def __len__(self) -> int:
        with self._lock:
            return len(self.items)


class AgentProcess:
    """``rosweb agent`` in a subprocess of its own session, serving ``backend`` on an ipc://
    socket in ``directory``."""

    def __init__(self, backend: str, directory: Any, name: str = "agent") -> None:
        import sys
        from pathlib import Path

        self.backend = backend
        self.path = Path(directory) / f"{name}.sock"
        self.address = f"ipc://{self.path}"
        self.url = f"agent://{self.address}"
        self.executable = str(Path(sys.executable).parent / "rosweb")
        self.proc: Any = None

    def start(self) -> AgentProcess:
        import os
        import subprocess

        if self.path.exists():
            self.path.unlink()  # a killed agent leaves its socket file
        env = {k: v for k, v in os.environ.items() if not k.startswith("ROSWEB_")}
        self.proc = subprocess.Popen(
            [self.executable, "agent", "--backend", self.backend, "--listen", self.address],
            env=env | {"PYTHONUNBUFFERED": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        wait_for(lambda: self.path.exists() or self.proc.poll() is not None, timeout=30)
        if self.proc.poll() is not None:
            raise AssertionError(f"the agent exited: {self.proc.communicate()[1]}")
        return self

    def kill(self) -> None:
        import os
        import signal

        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc is not None and not (self.proc.stderr and self.proc.stderr.closed):
            self.proc.communicate()  # once: a second kill finds its pipes closed

    def stop(self) -> int:
        """SIGTERM, as a service manager would; returns the exit code."""
        import signal

        self.proc.send_signal(signal.SIGTERM)
        self.proc.communicate(timeout=20)
        return int(self.proc.returncode)
