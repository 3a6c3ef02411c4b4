"""What the reliability suite shares: a server in a process of its own (``rosweb run`` or
``flask run``), and that process's figures read from ``/proc`` (memory, threads, descriptors)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from helpers import free_port, wait_for

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Figures:
    """One sample of a process: resident memory (MiB), threads, open file descriptors."""

    rss: float
    threads: int
    fds: int


def figures(pid: int) -> Figures:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return Figures(
        rss=int(fields["VmRSS"].split()[0]) / 1024,
        threads=int(fields["Threads"]),
        fds=len(os.listdir(f"/proc/{pid}/fd")),
    )


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without a developer's ROSWEB_/FLASK_ settings, plus ``extra``."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ROSWEB_", "FLASK_", "WERKZEUG_"))
    }
    return env | {"PYTHONUNBUFFERED": "1"} | extra


def api_up(url: str, headers: dict[str, str] | None = None) -> bool:
    try:
        return requests.get(url + "/api/topics", headers=headers, timeout=2).status_code == 200
    except requests.RequestException:
        return False


class Served:
    """A server process on a free loopback port: ``rosweb run ARGS`` (``kind="rosweb"``) or
    ``flask --app rosweb.web:create_app run --no-reload`` (``kind="flask"``: Werkzeug's server
    and the flask-sock transport, the development path)."""

    def __init__(
        self,
        processes: list[subprocess.Popen[str]],
        *args: str,
        kind: str = "rosweb",
        env: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        port: int | None = None,
        wait: float = 60.0,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}/ws"
        self.kind = kind
        if kind == "rosweb":
            command = [str(BIN / "rosweb"), "run", "--port", str(self.port), *args]
        else:
            command = [str(BIN / "flask"), "--app", "rosweb.web:create_app", "run",
                       "--no-reload", "--port", str(self.port), *args]  # fmt: skip
        # the output goes to a file: a pipe nobody drains would block a server logging a storm
        fd, self.log = tempfile.mkstemp(prefix="rosweb-", suffix=".log")
        try:
            self.proc: subprocess.Popen[str] = subprocess.Popen(
                command, env=env or clean_env(), text=True, start_new_session=True,
                stdout=fd, stderr=subprocess.STDOUT,
            )  # fmt: skip
        finally:
            os.close(fd)  # the server has its own
        processes.append(self.proc)
        self.pid = self.proc.pid
        wait_for(lambda: api_up(self.url, headers) or self.proc.poll() is not None, timeout=wait)
        if self.proc.poll() is not None:
            raise AssertionError(f"the server exited: {self.output()}")

    def figures(self) -> Figures:
        return figures(self.pid)

    def output(self) -> str:
        """What it printed so far."""
        return Path(self.log).read_text(errors="replace")

    def stop(self, sig: int = signal.SIGINT) -> str:
        """Stop it as Ctrl-C does; returns what it printed."""
        os.kill(self.pid, sig)
        self.proc.wait(timeout=30)
        return self.output()

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return requests.get(self.url + path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return requests.post(self.url + path, json=body, **kwargs)
