"""Fixtures of the reliability suite: servers in processes of their own, shared by a module."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator

import pytest

from reliability.procs import Served, clean_env


@pytest.fixture(scope="module")
def module_servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., Served]]:
    """``start(*args, kind="rosweb", headers=None, **env)``: a server for the whole module
    (killed after it), with an e-stop latch file of its own (never the user's)."""
    started: list[subprocess.Popen[str]] = []
    state = str(tmp_path_factory.mktemp("state"))

    def start(
        *args: str, kind: str = "rosweb", headers: dict[str, str] | None = None, **env: str
    ) -> Served:
        return Served(started, *args, kind=kind, headers=headers,
                      env=clean_env(XDG_STATE_HOME=state, **env))  # fmt: skip

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
