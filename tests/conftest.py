"""Fixtures: ``app``, ``client`` (Flask test client), ``live_server`` (real HTTP on loopback)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpers import Endpoint, LiveServer, RosMaster
from rosweb.graph import Graph, connect
from rosweb.server import Server
from rosweb.server.handlers import tornado_handlers
from rosweb.web import RosWeb, create_app


@pytest.fixture(autouse=True)
def _clean_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A developer's own ROSWEB_* settings never leak into tests, and each test (and the servers
    it starts) keeps its e-stop latch in a file of its own, never the user's."""
    import os

    for key in list(os.environ):
        if key.startswith("ROSWEB_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture
def app() -> Iterator[Flask]:
    app = create_app({"TESTING": True})
    yield app
    RosWeb.close(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def live_server() -> Iterator[LiveServer]:
    """The real app (sim robot) served by rosweb's Tornado server on a free loopback port."""
    graph = connect("sim://")  # the test's own hold on the robot side (as a ROS peer has)
    app = create_app({"TESTING": True}, graph=graph)
    server = Server(app, "127.0.0.1", 0, threads=8, handlers=tornado_handlers(app))
    server.start()
    yield LiveServer(app, server, graph)
    server.stop()
    RosWeb.close(app)
    graph.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., LiveServer]]:
    """``serve(settings=None, graph=None)``: the app with these settings, served by rosweb's
    Tornado server on a free loopback port (stopped after the test)."""
    started: list[LiveServer] = []

    owned: list[Graph] = []

    def start(
        settings: dict[str, Any] | None = None, graph: Graph | None = None, *, own: bool = False
    ) -> LiveServer:
        """``own``: the graph given is closed after the server (a zenoh session left open keeps
        its callback threads, and those hold the interpreter at exit)."""
        backend = (settings or {}).get("ROSWEB_BACKEND", "sim://")
        if graph is None and backend.startswith("sim:"):  # other backends: the app makes it
            graph = connect(backend)
            owned.append(graph)
        elif graph is not None and own:
            owned.append(graph)
        app = create_app({"TESTING": True, **(settings or {})}, graph=graph)
        server = Server(app, "127.0.0.1", 0, threads=16, handlers=tornado_handlers(app))
        try:
            server.start()
        except BaseException:
            RosWeb.close(app)
            raise
        started.append(LiveServer(app, server, graph))
        return started[-1]

    yield start
    for live in started:
        live.server.stop()
        RosWeb.close(live.app)
    for graph in owned:
        graph.close()


ROS1_MISSING = (
    "ROS 1 is not installed: `make test` (as root) installs Debian's python3-rospy, "
    "python3-rosmaster and the ROS command-line tools"
)


@pytest.fixture(scope="session")
def ros_master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RosMaster]:
    """A private master for the session; rosweb's node and every peer use it."""
    import os

    master = RosMaster()
    if master.executable is None:
        pytest.fail(ROS1_MISSING)  # loud, never a skip: CI must run the ROS 1 suite
    master.start()
    saved = {k: os.environ.get(k) for k in ("ROS_MASTER_URI", "ROS_IP", "ROS_HOME")}
    os.environ.update(
        {
            "ROS_MASTER_URI": master.uri,
            "ROS_IP": "127.0.0.1",
            "ROS_HOME": str(tmp_path_factory.mktemp("ros_home")),
        }
    )
    yield master
    master.kill()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Subprocesses a test starts (in their own sessions); killed and reaped after it."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()  # reaps it and closes its pipes


@pytest.fixture(params=["tornado", "flask"])
def endpoint(request: pytest.FixtureRequest) -> Iterator[Endpoint]:
    """The sim app served both ways: ``tornado`` (rosweb run: native handlers in front of the
    WSGI container) and ``flask`` (Werkzeug's threaded server, as flask run: Flask routes)."""
    import threading

    from werkzeug.serving import make_server

    graph = connect("sim://")
    app = create_app({"TESTING": True, "ROSWEB_WS_STALL_TIMEOUT": 1.0}, graph=graph)
    state = app.extensions["rosweb"]
    if request.param == "tornado":
        server = Server(app, "127.0.0.1", 0, threads=8, handlers=tornado_handlers(app))
        server.start()
        url, stop = server.url, server.stop
    else:
        wsgi = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=wsgi.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{wsgi.server_port}"

        def stop() -> None:
            wsgi.shutdown()
            wsgi.server_close()

    yield Endpoint(url, url.replace("http", "ws") + "/ws", state, request.param, graph)
    stop()
    RosWeb.close(app)
    graph.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    """A thread left blocked by a test must not hang the run at exit (CI would time out with no
    word of which): list what is still alive, and if the process has not exited two minutes on,
    print every thread's stack and exit non-zero."""
    import faulthandler
    import sys
    import threading

    alive = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if alive:
        names = ", ".join(sorted(t.name for t in alive))
        print(f"\nnon-daemon threads alive at exit: {names}", file=sys.stderr)
    faulthandler.dump_traceback_later(120, exit=True)
