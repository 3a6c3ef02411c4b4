"""Your own Python values as parameters (``rw.property``), on every path: REST, rosapi over the
rosbridge WebSocket, the Python client, the CLI and your own code; checked (type, range,
choices, read-only), governed by roles and allow/deny lists, audited. ``ROSWEB_PARAM_META``
ranges hold on every write path too, and ``[params]`` gives start values."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket
from flask import Flask

from helpers import assert_error, wait_for
from rosweb import Client
from rosweb.errors import ConfigError, LeaseHeld, ValidationError
from rosweb.graph import connect
from rosweb.server import Server
from rosweb.server.handlers import tornado_handlers
from rosweb.web import RosWeb
from rosweb.web.auth import hash_token

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


@dataclass
class Settings:
    """The app's own values."""

    threshold: float = 0.5
    enabled: bool = True
    mode: str = "fast"
    count: int = 3
    writes: list[tuple[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def setter(self, name: str) -> Callable[[Any], None]:
        def store(value: Any) -> None:
            with self.lock:
                self.writes.append((name, value))
            setattr(self, name, value)

        return store


@dataclass
class OwnApp:
    app: Flask
    rw: RosWeb
    settings: Settings
    url: str

    @property
    def ws(self) -> str:
        return self.url.replace("http", "ws") + "/ws"


def declare(rw: RosWeb, settings: Settings) -> None:
    rw.property("/app/threshold", lambda: settings.threshold, settings.setter("threshold"),
                type=float, min=0.0, max=1.0, step=0.05, unit="m",
                description="how close is too close")  # fmt: skip
    rw.property("/app/enabled", lambda: settings.enabled, settings.setter("enabled"), type=bool)

    @rw.property("/app/mode", type=str, choices=["fast", "slow"])
    def mode() -> str:
        return settings.mode

    mode.setter(settings.setter("mode"))
    rw.property("/app/count", lambda: settings.count, type=int)  # read-only


@pytest.fixture
def own_app() -> Iterator[Callable[..., OwnApp]]:
    """``own_app(config)``: a Flask app of your own with properties, served by rosweb's server."""
    started: list[tuple[Server, Flask]] = []
    graphs = []

    def start(config: dict[str, Any] | None = None, *, before: bool = False) -> OwnApp:
        graph = connect("sim://")
        graphs.append(graph)
        app = Flask("own_app")
        app.config.update(TESTING=True, **(config or {}))
        settings = Settings()
        if before:  # RosWeb(), the properties, then init_app: the same
            rw = RosWeb(graph=graph)
            declare(rw, settings)
            rw.init_app(app)
        else:
            rw = RosWeb(app, graph=graph)
            declare(rw, settings)
        server = Server(app, "127.0.0.1", 0, threads=8, handlers=tornado_handlers(app))
        server.start()
        started.append((server, app))
        return OwnApp(app, rw, settings, server.url)

    yield start
    for server, app in started:
        server.stop()
        RosWeb.close(app)
    for graph in graphs:
        graph.close()


def rosapi(url: str, service: str, args: dict[str, Any], query: str = "") -> dict[str, Any]:
    ws = websocket.create_connection(url + query, timeout=5)
    try:
        ws.send(json.dumps({"op": "call_service", "id": "1", "service": service, "args": args}))
        while True:  # a refusal comes as a status message first
            answer: dict[str, Any] = json.loads(ws.recv())
            if answer["op"] == "service_response":
                return answer
    finally:
        ws.close()


@pytest.mark.parametrize("before", [False, True], ids=["after-init", "before-init"])
def test_a_property_reads_and_writes_through_your_functions_on_rest(
    own_app: Callable[..., OwnApp], before: bool
) -> None:
    own = own_app(before=before)
    listing = requests.get(own.url + "/api/params", timeout=5).json()
    assert {"/app/threshold", "/app/enabled", "/app/mode", "/app/count"} <= set(listing["params"])
    assert listing["meta"]["/app/threshold"] == {
        "type": "float", "min": 0.0, "max": 1.0, "step": 0.05, "unit": "m",
        "description": "how close is too close", "property": True, "writable": True,
    }  # fmt: skip
    assert listing["meta"]["/app/count"]["writable"] is False
    assert requests.get(own.url + "/api/params/app/threshold", timeout=5).json() == 0.5
    answer = requests.put(own.url + "/api/params/app/threshold", json=0.75, timeout=5)
    assert answer.json() == 0.75
    assert own.settings.threshold == 0.75
    assert own.settings.writes == [("threshold", 0.75)]
    put = requests.put(own.url + "/api/params/app/threshold", json=1.5, timeout=5)
    error = assert_error(put, 422, "validation_error", "/app/threshold")
    assert "expects a value in [0.0, 1.0], got 1.5" in error["message"]
    put = requests.put(own.url + "/api/params/app/threshold", json="far", timeout=5)
    assert "expects a number" in assert_error(put, 422, field="/app/threshold")["message"]
    put = requests.put(own.url + "/api/params/app/enabled", json=1, timeout=5)
    assert "true or false" in assert_error(put, 422, field="/app/enabled")["message"]
    put = requests.put(own.url + "/api/params/app/mode", json="warp", timeout=5)
    assert "one of ['fast', 'slow']" in assert_error(put, 422)["message"]
    put = requests.put(own.url + "/api/params/app/count", json=4, timeout=5)
    assert "read-only" in assert_error(put, 422, field="/app/count")["message"]
    assert own.settings.writes == [("threshold", 0.75)]  # nothing refused reached your setter
    # a namespace reads as a dict and sets the names it holds
    assert requests.get(own.url + "/api/params/app", timeout=5).json() == {
        "threshold": 0.75, "enabled": True, "mode": "fast", "count": 3,
    }  # fmt: skip
    put = requests.put(own.url + "/api/params/app", json={"mode": "slow", "enabled": False},
                       timeout=5)  # fmt: skip
    assert put.status_code == 200
    assert (own.settings.mode, own.settings.enabled) == ("slow", False)
    put = requests.put(own.url + "/api/params/app", json={"mode": "slow", "threshold": 7},
                       timeout=5)  # fmt: skip
    assert_error(put, 422, field="/app/threshold")  # one bad value: nothing is set
    assert_error(requests.delete(own.url + "/api/params/app/mode", timeout=5), 422)


def test_rosapi_get_and_set_param_go_through_the_same_checks(
    own_app: Callable[..., OwnApp],
) -> None:
    own = own_app()
    got = rosapi(own.ws, "/rosapi/get_param", {"name": "/app/threshold"})
    assert got["result"] is True
    assert json.loads(got["values"]["value"]) == 0.5
    done = rosapi(own.ws, "/rosapi/set_param", {"name": "/app/threshold", "value": "0.25"})
    assert done["result"] is True
    assert own.settings.threshold == 0.25
    refused = rosapi(own.ws, "/rosapi/set_param", {"name": "/app/threshold", "value": "2"})
    assert refused["result"] is False
    assert "expects a value in [0.0, 1.0]" in refused["values"]
    assert own.settings.threshold == 0.25
    names = rosapi(own.ws, "/rosapi/get_param_names", {})["values"]["names"]
    assert "/app/threshold" in names


def test_the_client_and_the_cli_see_and_set_it(own_app: Callable[..., OwnApp]) -> None:
    own = own_app()
    with Client(own.url) as robot:
        assert robot.params["/app/mode"] == "fast"
        robot.params["/app/mode"] = "slow"
        assert own.settings.mode == "slow"
        with pytest.raises(ValidationError) as err:
            robot.params["/app/threshold"] = -1
        assert err.value.field == "/app/threshold"
        assert robot.params.meta()["/app/threshold"]["max"] == 1.0

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "rosweb"), "param", *args, "--url", own.url],
                              capture_output=True, text=True, timeout=30)  # fmt: skip

    done = cli("set", "/app/threshold", "0.3")
    assert done.returncode == 0, done.stderr
    assert own.settings.threshold == 0.3
    assert cli("get", "/app/threshold").stdout.strip() == "0.3"
    refused = cli("set", "/app/threshold", "3")
    assert refused.returncode == 1
    assert "expects a value in [0.0, 1.0]" in refused.stderr
    assert "/app/threshold" in cli("list", "/app").stdout


def test_your_code_sets_it_through_the_same_checks(own_app: Callable[..., OwnApp]) -> None:
    own = own_app()
    robot = own.rw.robot
    robot.params["/app/threshold"] = 0.1
    assert own.settings.threshold == 0.1
    with pytest.raises(ValidationError):
        robot.set_param("/app/threshold", 9)
    assert "/app/threshold" in robot.params
    assert dict(robot.params)["/app/mode"] == "fast"
    with pytest.raises(KeyError):
        robot.params["/app/nothing"]


USERS = {
    "ada": {"role": "operator", "tokens": [hash_token("op")]},
    "vic": {"role": "viewer", "tokens": [hash_token("view")]},
}


def test_roles_lists_and_the_audit_govern_it(
    own_app: Callable[..., OwnApp], tmp_path: Path
) -> None:
    log = tmp_path / "audit.log"
    own = own_app({
        "ROSWEB_USERS": USERS,
        "ROSWEB_AUDIT_LOG": str(log),
        "ROSWEB_ROLES": {"viewer": {"deny_params": ["/app/mode"]}},
    })  # fmt: skip
    viewer, operator = {"Authorization": "Bearer view"}, {"Authorization": "Bearer op"}
    put = requests.put(own.url + "/api/params/app/threshold", json=0.2, headers=viewer, timeout=5)
    assert_error(put, 403, "forbidden")
    assert requests.get(own.url + "/api/params/app/threshold", headers=viewer,
                        timeout=5).json() == 0.5  # fmt: skip
    names = requests.get(own.url + "/api/params", headers=viewer, timeout=5).json()
    assert "/app/mode" not in names["params"]
    assert "/app/mode" not in names["meta"]
    assert_error(requests.get(own.url + "/api/params/app/mode", headers=viewer, timeout=5), 403)
    denied = rosapi(own.ws, "/rosapi/set_param", {"name": "/app/threshold", "value": "0.2"},
                    "?token=view")  # fmt: skip
    assert denied["result"] is False
    assert own.settings.writes == []
    put = requests.put(own.url + "/api/params/app/threshold", json=0.2, headers=operator, timeout=5)
    assert put.status_code == 200
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(
        e["action"] == "set_param" and e["target"] == "/app/threshold" and e["user"] == "ada"
        and e["value"] == 0.2 for e in lines
    )  # fmt: skip


def test_declared_param_meta_holds_on_every_write_path(own_app: Callable[..., OwnApp]) -> None:
    own = own_app({"ROSWEB_PARAM_META": {
        "/arm/gain": {"min": 0.0, "max": 5.0, "unit": "x"},
        "/arm/teeth": {"type": "int", "min": 1, "max": 40},
        "/arm/grip": {"type": "str", "choices": ["open", "closed"]},
    }})  # fmt: skip
    put = requests.put(own.url + "/api/params/arm/gain", json=9, timeout=5)
    assert (
        "expects a value in [0.0, 5.0], got 9"
        in assert_error(put, 422, field="/arm/gain")["message"]
    )
    put = requests.put(own.url + "/api/params/arm", json={"gain": 9}, timeout=5)
    assert_error(put, 422, field="/arm/gain")
    assert_error(requests.put(own.url + "/api/params/arm/teeth", json=2.5, timeout=5), 422)
    assert_error(requests.put(own.url + "/api/params/arm/grip", json="loose", timeout=5), 422)
    refused = rosapi(own.ws, "/rosapi/set_param", {"name": "/arm/gain", "value": "9"})
    assert refused["result"] is False
    with Client(own.url) as robot, pytest.raises(ValidationError):
        robot.params["/arm/gain"] = 9
    with pytest.raises(ValidationError):
        own.rw.robot.set_param("/arm/gain", 9)
    assert requests.get(own.url + "/api/params", timeout=5).json()["params"].count("/arm/gain") == 0
    assert requests.put(own.url + "/api/params/arm/gain", json=4.5, timeout=5).json() == 4.5
    assert requests.put(own.url + "/api/params/arm/teeth", json=12, timeout=5).json() == 12
    # the sim's own ranges hold too (they come from the backend's meta)
    put = requests.put(own.url + "/api/params/robot/max_linear_speed", json=9, timeout=5)
    assert_error(put, 422, field="/robot/max_linear_speed")


def test_params_table_gives_start_values_to_params_and_properties(
    own_app: Callable[..., OwnApp], tmp_path: Path
) -> None:
    from rosweb import config

    toml = tmp_path / "rosweb.toml"
    toml.write_text('[params]\n"/app/threshold" = 0.25\nrobot.max_linear_speed = 0.5\n'
                    '[params.app]\nmode = "slow"\n')  # fmt: skip
    settings = config.from_toml(toml)
    assert settings["ROSWEB_PARAMS"] == {
        "/app/threshold": 0.25, "robot": {"max_linear_speed": 0.5}, "app": {"mode": "slow"},
    }  # fmt: skip
    own = own_app(settings)  # properties declared after init_app, and with a decorator
    assert own.settings.threshold == 0.25
    assert own.settings.mode == "slow"
    assert requests.get(own.url + "/api/params/robot/max_linear_speed", timeout=5).json() == 0.5
    names = requests.get(own.url + "/api/params", timeout=5).json()["params"]
    assert names.count("/app/threshold") == 1  # a property, not also a backend param
    assert not [n for n in names if n == "/app"]


def test_a_start_value_out_of_range_stops_the_start(own_app: Callable[..., OwnApp]) -> None:
    with pytest.raises(ConfigError, match=r"ROSWEB_PARAMS.*max_linear_speed.*expects a value"):
        own_app({"ROSWEB_PARAMS": {"/robot/max_linear_speed": 9}})
    with pytest.raises(ConfigError, match=r"ROSWEB_PARAMS.*/app/threshold"):
        own_app({"ROSWEB_PARAMS": {"/app/threshold": 2}})


def test_a_subscriber_gets_each_message_and_survives_its_own_errors(
    own_app: Callable[..., OwnApp], caplog: pytest.LogCaptureFixture
) -> None:
    own = own_app()
    seen: list[float] = []
    threads: set[str] = set()

    @own.rw.subscriber("/odom", throttle_rate=50)
    def on_odom(msg: dict[str, Any]) -> None:
        threads.add(threading.current_thread().name)
        seen.append(msg["pose"]["pose"]["position"]["x"])
        if len(seen) % 2:
            raise RuntimeError("a bug in your callback")

    with caplog.at_level(logging.ERROR):
        wait_for(lambda: len(seen) >= 6, timeout=5)
    failures = [r for r in caplog.records if "/odom" in r.getMessage()]
    assert failures, "an error is logged with the topic"
    assert failures[0].exc_info is not None
    assert threads == {"rosweb-sub/odom"}  # its own thread, never the middleware's
    with pytest.raises(ConfigError, match="type_name"):
        own.rw.subscriber("/not/yet")(lambda msg: None)
    arrived = threading.Event()
    own.rw.subscriber("/later", type_name="std_msgs/String")(lambda msg: arrived.set())
    own.rw.robot.publish("/later", {"data": "hi"})
    assert arrived.wait(5)


def test_without_users_every_caller_is_one_operator(own_app: Callable[..., OwnApp]) -> None:
    own = own_app()
    tab = {"X-Rosweb-Client": "tab-1234"}  # the browser's page names its tab
    drive = {"command": "forward"}
    assert requests.post(own.url + "/api/teleop", json=drive, headers=tab, timeout=5).ok
    assert requests.get(own.url + "/api/control", timeout=5).json()["holder"] == "anonymous"
    # your own curl, the CLI, a script and your app's code drive too, at once: no 409 for 30 s
    assert requests.post(own.url + "/api/teleop", json=drive, timeout=5).ok
    with Client(own.url) as robot:
        robot.teleop("forward")
    own.rw.robot.teleop("forward")
    own.rw.robot.stop()


def test_with_users_the_409_says_which_request_releases_the_lease(
    own_app: Callable[..., OwnApp],
) -> None:
    own = own_app({"ROSWEB_USERS": {**USERS, "eve": {"role": "operator",
                                                     "tokens": [hash_token("eve")]}}})  # fmt: skip
    drive = {"command": "forward"}
    ada, eve = {"Authorization": "Bearer op"}, {"Authorization": "Bearer eve"}
    assert requests.post(own.url + "/api/teleop", json=drive, headers=ada, timeout=5).ok
    refused = requests.post(own.url + "/api/teleop", json=drive, headers=eve, timeout=5)
    error = assert_error(refused, 409, "control_held")
    assert "ada is driving" in error["message"]
    assert "DELETE /api/control" in error["message"]
    released = requests.delete(own.url + "/api/control", headers=ada, timeout=5).json()
    assert released["released"] is True
    assert requests.post(own.url + "/api/teleop", json=drive, headers=eve, timeout=5).ok
    with pytest.raises(LeaseHeld, match="eve is driving"):  # the app's own code waits too
        own.rw.robot.teleop("forward")
