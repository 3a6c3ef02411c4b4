"""``rosweb run --workers N``: one agent process with the node, N web worker processes.

The parent process supervises: it starts ``rosweb agent`` (the backend of the settings) on an
ipc:// socket in a private directory, binds the listening sockets once, then forks N workers
that inherit them (Tornado's ``bind_sockets`` + fork, as ``tornado.process.fork_processes``
does). Each worker is a whole rosweb server (Flask app, WebSocket, SSE, MJPEG) whose backend is
``agent://`` that socket; the camera inputs and compressed siblings (``--input``,
``ROSWEB_COMPRESSED_TOPICS``) run in the agent, once. Chosen over subprocesses binding with
SO_REUSEPORT: one bind, so port 0 and "port in use" behave as with one process, and no other
process can join the port group; the kernel wakes the workers on the shared socket. The parent
forks before it starts any thread, and the workers import the app after the fork.

The parent restarts a worker or the agent that dies (the workers reconnect to a new agent by
themselves). SIGINT or SIGTERM stops the workers, then the agent, then the parent; workers and
agent also get SIGTERM if the parent dies (``PR_SET_PDEATHSIG``), so none is left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

from rosweb.errors import RosWebError

__all__ = ["run_workers"]

log = logging.getLogger(__name__)

AGENT_START_TIMEOUT = 60.0  # seconds for the agent to bring its backend up
STOP_TIMEOUT = 10.0  # seconds each child has to stop before SIGKILL
RESTART_INTERVAL = 1.0  # at most one restart per child per second


class WorkersError(RosWebError):
    """The workers or their agent could not start."""


def _die_with_parent() -> None:
    """This process gets SIGTERM when its parent dies (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the parent's SIGTERM handling still applies
        pass


def _agent_env(settings: Mapping[str, Any]) -> dict[str, str]:
    """The environment of the agent: every setting, so it has the same configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROSWEB_")}
    for key, value in settings.items():
        if key.startswith("ROSWEB_"):
            env[key] = value if isinstance(value, str) else json.dumps(value)
    return env


class _Supervisor:
    def __init__(
        self, settings: Mapping[str, Any], workers: int, log_level: str, echo: Callable[[str], None]
    ) -> None:
        self.settings = dict(settings)
        self.workers = workers
        self.log_level = log_level
        self.echo = echo
        self.tmpdir = tempfile.mkdtemp(prefix="rosweb-agent-")
        self.address = f"ipc://{os.path.join(self.tmpdir, 'agent.sock')}"
        self.agent: subprocess.Popen[bytes] | None = None
        self.pids: list[int] = []
        self.stopping = False

    # -- the agent ------------------------------------------------------------------------------

    def start_agent(self) -> None:
        args = [sys.executable, "-m", "rosweb.cli", "agent", "--listen", self.address,
                "--log-level", self.log_level]  # fmt: skip
        self.agent = subprocess.Popen(
            args, env=_agent_env(self.settings), preexec_fn=_die_with_parent
        )

    def wait_agent(self) -> None:
        """Until the agent listens (its socket exists); WorkersError if it exits first."""
        assert self.agent is not None
        path = self.address[len("ipc://") :]
        deadline = time.monotonic() + AGENT_START_TIMEOUT
        while not os.path.exists(path):
            code = self.agent.poll()
            if code is not None:
                raise WorkersError(f"the agent exited with code {code} before serving")
            if time.monotonic() > deadline:
                raise WorkersError(f"the agent did not start within {AGENT_START_TIMEOUT:.0f} s")
            time.sleep(0.05)

    # -- the workers ----------------------------------------------------------------------------

    def fork_worker(self, sockets: dict[int, list[socket.socket]]) -> int:
        pid = os.fork()
        if pid:
            return pid
        code = 1
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_DFL)
            _die_with_parent()
            self._serve_worker(sockets)
            code = 0
        except BaseException as err:
            print(f"rosweb: worker {os.getpid()}: {err}", file=sys.stderr, flush=True)
        finally:
            os._exit(code)

    def _serve_worker(self, sockets: dict[int, list[socket.socket]]) -> None:
        from rosweb.hub.switch import tune_process
        from rosweb.server import Server
        from rosweb.web import RosWeb, create_app

        # the agent runs the camera inputs and compressed siblings, once for every worker
        settings = dict(self.settings, ROSWEB_BACKEND=f"agent://{self.address}",
                        ROSWEB_INPUTS=[], ROSWEB_COMPRESSED_TOPICS=[])  # fmt: skip
        app = create_app(settings)
        server = Server.for_app(app, settings, sockets=sockets)
        tune_process()
        try:
            server.serve_forever()
        finally:
            RosWeb.close(app)

    # -- supervision ----------------------------------------------------------------------------

    def run(self) -> None:
        import tornado.netutil

        self.start_agent()
        self.wait_agent()
        host = self.settings["ROSWEB_HOST"]
        sockets: dict[int, list[socket.socket]] = {}
        for key in ("ROSWEB_PORT", "ROSWEB_ROSBRIDGE_PORT"):
            port = self.settings[key]
            if key == "ROSWEB_ROSBRIDGE_PORT" and not port:
                continue
            try:
                bound = tornado.netutil.bind_sockets(port, host, family=socket.AF_UNSPEC)
            except OSError as err:
                raise WorkersError(f"cannot listen on {host}:{port}: {err.strerror}") from err
            self.settings[key] = bound[0].getsockname()[1]
            sockets[self.settings[key]] = bound
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._stop)
        self.pids = [self.fork_worker(sockets) for _ in range(self.workers)]
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{self.settings['ROSWEB_PORT']}"
        self.echo(f"rosweb: serving at {url}  (Ctrl-C to stop)")
        self.echo(f"rosweb: {self.workers} workers, agent at {self.address}")
        restarted: dict[int, float] = {}
        while not self.stopping:
            time.sleep(0.2)
            for index, pid in enumerate(self.pids):
                if self.stopping or os.waitpid(pid, os.WNOHANG)[0] == 0:
                    continue
                if time.monotonic() - restarted.get(index, 0.0) < RESTART_INTERVAL:
                    time.sleep(RESTART_INTERVAL)
                restarted[index] = time.monotonic()
                log.warning("worker %d exited: starting another", pid)
                self.pids[index] = self.fork_worker(sockets)
            assert self.agent is not None
            if not self.stopping and self.agent.poll() is not None:
                if time.monotonic() - restarted.get(-1, 0.0) < RESTART_INTERVAL:
                    time.sleep(RESTART_INTERVAL)
                restarted[-1] = time.monotonic()
                self.echo(f"rosweb: the agent exited (code {self.agent.returncode}): restarting it")
                self.start_agent()
        for bound in sockets.values():
            for sock in bound:
                sock.close()

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def shutdown(self) -> None:
        """Workers first (they leave the agent), then the agent; SIGKILL after STOP_TIMEOUT."""
        for pid in self.pids:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for pid in self.pids:
            _reap(pid, deadline)
        if self.agent is not None and self.agent.poll() is None:
            self.agent.terminate()
            try:
                self.agent.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.agent.kill()
                self.agent.wait()
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _reap(pid: int, deadline: float) -> None:
    try:
        while os.waitpid(pid, os.WNOHANG)[0] == 0:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return
            time.sleep(0.05)
    except ChildProcessError:
        pass


def run_workers(
    settings: Mapping[str, Any], workers: int, *, log_level: str, echo: Callable[[str], None]
) -> None:
    """Serve with ``workers`` processes sharing one agent, until SIGINT or SIGTERM."""
    supervisor = _Supervisor(settings, workers, log_level, echo)
    try:
        supervisor.run()
    finally:
        supervisor.shutdown()
