"""Your own Flask app with ``RosWeb(app)``: the public Python API is guarded like every web path.

The app is made the README's way; its own route drives through ``rw.robot``. A Twist to a command
topic is clamped, obeys the e-stop and the lease, and lasts the deadman's timeout; a partial
message gets its defaults; a bad one is a clear 422, never a KeyError in the sim's log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, jsonify, request

from helpers import Inbox, wait_for
from rosweb.core import Caller
from rosweb.errors import (
    EStopEngaged,
    LeaseHeld,
    PermissionDenied,
    TypeMismatchError,
    ValidationError,
)
from rosweb.graph import connect
from rosweb.graph.sim import SimGraph
from rosweb.web import RosWeb

TWIST = "geometry_msgs/Twist"


@pytest.fixture
def own_app() -> Iterator[tuple[Flask, RosWeb, SimGraph]]:
    graph = connect("sim://")
    assert isinstance(graph, SimGraph)
    app = Flask("my_robot_app")
    app.config.update(TESTING=True, ROSWEB_MAX_LINEAR_SPEED=0.5, ROSWEB_TELEOP_TIMEOUT=0.2)
    rw = RosWeb(app, graph=graph)

    @app.post("/drive")
    def drive() -> Any:
        body = request.get_json()
        return jsonify(rw.robot.publish("/cmd_vel", body))

    yield app, rw, graph
    RosWeb.close(app)
    graph.close()


def test_your_route_cannot_publish_an_unclamped_twist(
    own_app: tuple[Flask, RosWeb, SimGraph],
) -> None:
    app, _rw, graph = own_app
    inbox: Inbox = Inbox()
    with graph.subscribe("/cmd_vel", inbox, TWIST):
        answer = app.test_client().post("/drive", json={"linear": {"x": 5.0}})
        assert answer.status_code == 200
        assert answer.json["linear"]["x"] == 0.5  # clamped to ROSWEB_MAX_LINEAR_SPEED
        assert answer.json["angular"] == {"x": 0.0, "y": 0.0, "z": 0.0}  # defaults
        wait_for(lambda: any(m["linear"]["x"] == 0.5 for m in inbox.items))
        assert max(m["linear"]["x"] for m in inbox.items) == 0.5
        # the deadman stops it 0.2 s after the last command
        wait_for(lambda: inbox.items[-1]["linear"]["x"] == 0.0, timeout=2)


def test_your_code_obeys_the_estop_and_the_lease(own_app: tuple[Flask, RosWeb, SimGraph]) -> None:
    app, rw, graph = own_app
    robot = rw.robot
    robot.estop()
    inbox: Inbox = Inbox()
    with graph.subscribe("/cmd_vel", inbox, TWIST):
        with pytest.raises(EStopEngaged):
            robot.publish("/cmd_vel", {"linear": {"x": 0.3}})
        with pytest.raises(EStopEngaged):
            robot.drive({"linear": {"x": 0.3}})
        answer = app.test_client().post("/drive", json={"linear": {"x": 0.3}})
        assert answer.status_code == 409
        assert answer.json["error"]["code"] == "estop_engaged"
        time.sleep(0.3)
        assert inbox.items, "the e-stop repeats zero Twists"
        assert all(m["linear"]["x"] == 0.0 for m in inbox.items)
    robot.clear_estop()
    # someone else holds the lease: the app's own code waits its turn like anyone
    # (with users configured: without any, every caller is the one operator "anonymous")
    other = app.extensions["rosweb"].robot.bind(Caller("alice", "operator", "tab1", "token"))
    other.teleop("forward")
    with pytest.raises(LeaseHeld):
        robot.drive({"linear": {"x": 0.1}})
    robot.stop()  # a stop is never refused


def test_a_partial_message_gets_defaults_and_a_bad_one_a_clear_error(
    own_app: tuple[Flask, RosWeb, SimGraph], caplog: pytest.LogCaptureFixture
) -> None:
    app, rw, graph = own_app
    inbox: Inbox = Inbox()
    with graph.subscribe("/chatter", inbox, "std_msgs/String"):
        sent = rw.robot.publish("/chatter", {}, "std_msgs/String")
        assert sent == {"data": ""}
        wait_for(lambda: inbox.items == [{"data": ""}])
    with caplog.at_level(logging.WARNING):
        answer = app.test_client().post("/drive", json={"linear": {"x": "fast"}})
        assert answer.status_code == 422
        assert answer.json["error"]["field"] == "linear.x"
        with pytest.raises(ValidationError) as err:
            rw.robot.publish("/cmd_vel", {"linear": [1, 2, 3]})
        assert err.value.field == "linear"
        with pytest.raises((PermissionDenied, TypeMismatchError)):  # a command topic: Twists
            rw.robot.publish("/cmd_vel", {"data": "x"}, "std_msgs/String")
        time.sleep(0.1)
    assert not [r for r in caplog.records if "KeyError" in r.getMessage() or r.exc_info], [
        r.getMessage() for r in caplog.records
    ]


def test_the_raw_backend_is_not_part_of_the_api(own_app: tuple[Flask, RosWeb, SimGraph]) -> None:
    app, rw, _graph = own_app
    state = app.extensions["rosweb"]
    public = {name for name in dir(state) if not name.startswith("_")}
    public |= {name for name in dir(state.robot) if not name.startswith("_")}
    public |= {name for name in dir(rw.robot) if not name.startswith("_")}
    assert not {"graph", "hub", "control", "_graph"} & public, public
