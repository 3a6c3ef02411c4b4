"""The REST API under ``/api``: topics, services, params, types, teleop, nodes, health.

Views parse the request, act through the caller's :class:`~rosweb.core.guard.GuardedRobot`
(which validates messages, checks names and roles, guards motion and audits) and answer JSON.
Errors are raised, never returned: the handlers of :mod:`rosweb.web.errors` give them their one
JSON shape.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import PathConverter

from rosweb import __version__
from rosweb.control import COMMANDS
from rosweb.core import GuardedRobot
from rosweb.core.names import ros_name
from rosweb.errors import BadRequest, ValidationError
from rosweb.messages import to_json
from rosweb.web.errors import ApiError, query_number
from rosweb.web.openapi import openapi_spec
from rosweb.web.sse import event_response
from rosweb.web.state import get_state, request_robot
from rosweb.web.video import video_health

__all__ = ["api"]

api = Blueprint("rosweb_api", __name__, url_prefix="/api")


class NameConverter(PathConverter):
    """``<rosname:...>``: the rest of the path, whatever its characters (a newline too, which
    ``<path:...>`` does not match), so that a bad name is the view's 400, never a routing 404."""

    regex = "(?s:[^/].*?)"


@api.record_once
def _register_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters.setdefault("rosname", NameConverter)


_MAX_WAIT = 30.0


# -- input helpers --------------------------------------------------------------------------------


def _body(default: Any = None) -> Any:
    """The request body as JSON, whatever the content type; ``default`` when empty."""
    data = request.get_data(cache=True)
    if not data.strip():
        return default
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise BadRequest(f"the body is not valid JSON: {err}", "bad_json") from None


def _object_body(what: str) -> dict[str, Any]:
    body = _body(default={})
    if not isinstance(body, dict):
        raise ValidationError(f"expects {what} as a JSON object, got {json.dumps(body)[:40]}")
    return body


def _number_arg(key: str, default: float, high: float = _MAX_WAIT) -> float:
    return query_number(request.args, key, default, 0.0, high)


def _bool_arg(key: str) -> bool:
    """A boolean query parameter, spelled as the OpenAPI spec says: true or false."""
    raw = request.args.get(key, "false")
    if raw not in ("true", "false"):
        raise BadRequest(f"{key} expects true or false", "bad_parameter", key)
    return raw == "true"


def _robot() -> GuardedRobot:
    """The current request's caller acting on the app's robot."""
    return request_robot("rest")


def _json_response(text: str, status: int = 200) -> Response:
    return Response(text, status=status, mimetype="application/json")


# -- index, health --------------------------------------------------------------------------------


@api.get("/")
def index() -> Response:
    return jsonify(
        name="rosweb",
        version=__version__,
        openapi="/api/openapi.json",
        endpoints=["/api/topics", "/api/services", "/api/params", "/api/types", "/api/teleop",
                   "/api/control", "/api/estop", "/api/nodes", "/api/health", "/api/whoami"],
    )  # fmt: skip


@api.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_spec())


@api.get("/health")
def health() -> tuple[Response, int]:
    report = _robot().health()
    body = {"ok": report.pop("ok"), "version": __version__, **report,
            "video": video_health(current_app, report.get("graph"))}  # fmt: skip
    return jsonify(body), 200 if body["ok"] else 503


@api.get("/nodes")
def nodes() -> Response:
    return jsonify(nodes=_robot().nodes())


# -- topics ---------------------------------------------------------------------------------------


@api.get("/topics")
def topics() -> Response:
    items = _robot().topics().items()
    return jsonify(topics=[{"name": name, "type": type_name} for name, type_name in items])


@api.get("/topics/<rosname:topic>")
def latest(topic: str) -> Response:
    name = ros_name(topic, "topic")
    robot = _robot()
    timeout = _number_arg("timeout", current_app.config["ROSWEB_LATEST_TIMEOUT"])
    envelope = robot.latest(name, 0.0)
    if envelope is None and timeout > 0:
        state = get_state()
        state.begin_wait()  # a bounded number of waiting reads: never every WSGI thread
        try:
            envelope = robot.latest(name, timeout)
        finally:
            state.end_wait()
    if envelope is None:
        raise ApiError(404, "no_message", f"no message on {name} within {timeout} s")
    head = json.dumps(
        {"topic": name, "type": envelope.type, "received": envelope.received}, separators=(",", ":")
    )
    return _json_response(f'{head[:-1]},"msg":{envelope.json}}}')


@api.get("/topics/<rosname:topic>/events")
def events(topic: str) -> Response:
    return event_response(_robot(), ros_name(topic, "topic"), request.args)


@api.post("/topics/<rosname:topic>")
def publish(topic: str) -> Response:
    name = ros_name(topic, "topic")
    robot = _robot()
    robot.write("topic", name)
    type_name = robot.resolve_type(name, request.args.get("type"))
    body = _object_body("the message")
    msg = robot.publish(name, body, type_name, latch=_bool_arg("latch"))  # motion: guarded
    return _json_response(to_json({"topic": name, "type": type_name, "msg": msg}))


# -- services -------------------------------------------------------------------------------------


@api.get("/services")
def services() -> Response:
    items = _robot().services().items()
    return jsonify(services=[{"name": name, "type": type_name} for name, type_name in items])


@api.get("/services/<rosname:service>")
def service_info(service: str) -> Response:
    name = ros_name(service, "service")
    robot = _robot()
    type_name = robot.service_type(name)
    return jsonify(name=name, type=type_name, schema=robot.schema(type_name))


@api.post("/services/<rosname:service>")
def call_service(service: str) -> Response:
    name = ros_name(service, "service")
    robot = _robot()
    robot.require("operator", f"calling {name}")
    type_name = robot.service_type(name)
    body = _object_body("the request")
    timeout = _number_arg("timeout", current_app.config["ROSWEB_SERVICE_TIMEOUT"], high=300.0)
    response = robot.call(name, body, timeout=timeout)
    return _json_response(to_json({"service": name, "type": type_name, "response": response}))


# -- params ---------------------------------------------------------------------------------------


@api.get("/params")
def params() -> Response:
    robot = _robot()
    return jsonify(params=robot.param_names(), meta=robot.param_meta())


@api.get("/params/<rosname:param>")
def get_param(param: str) -> Response:
    return jsonify(_robot().get_param(ros_name(param, "param")))


@api.put("/params/<rosname:param>")
def set_param(param: str) -> Response:
    robot = _robot()
    name = ros_name(param, "param")
    robot.write("param", name)
    value = _body()
    if value is None:
        raise ValidationError(
            "expects a JSON value (number, string, boolean, list or object)", name
        )
    return jsonify(robot.set_param(name, value))


@api.delete("/params/<rosname:param>")
def delete_param(param: str) -> tuple[str, int]:
    _robot().delete_param(ros_name(param, "param"))
    return "", 204


# -- types ----------------------------------------------------------------------------------------


@api.get("/types")
def types() -> Response:
    store = _robot().types
    return jsonify(messages=store.message_types(), services=store.service_types())


@api.get("/types/<rosname:type_name>")
def type_schema(type_name: str) -> Response:
    return jsonify(_robot().schema(type_name))


# -- teleop ---------------------------------------------------------------------------------------


@api.get("/teleop")
def teleop_info() -> Response:
    return jsonify(_robot().teleop_info())


@api.post("/teleop")
def teleop_command() -> Response:
    robot = _robot()
    body = _body()
    if not isinstance(body, dict):
        raise ValidationError('expects an object like {"command": "forward", "speed": 0.5}')
    unknown = set(body) - {"command", "speed"}
    if unknown:
        raise ValidationError("unknown field", sorted(unknown)[0])
    if not isinstance(body.get("command"), str):
        raise ValidationError(f"expects one of {list(COMMANDS)}", "command")
    twist = robot.teleop(body["command"], body.get("speed", 1.0))
    info = robot.teleop_info()
    return jsonify(
        command=body["command"], topic=info["topic"], twist=twist, timeout=info["timeout"]
    )


# -- control lease, e-stop ------------------------------------------------------------------------


@api.get("/control")
def control_state() -> Response:
    return jsonify(_robot().control_state())


@api.post("/control")
def control_acquire() -> Response:
    body = _body(default={})
    if not isinstance(body, dict) or set(body) - {"force"}:
        raise ValidationError('expects {} or {"force": true}')
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise ValidationError("expects true or false", "force")
    return jsonify(_robot().acquire(force))


@api.delete("/control")
def control_release() -> Response:
    robot = _robot()
    force = _bool_arg("force") if "force" in request.args else False
    released = robot.release(force)
    return jsonify(released=released, **robot.control_state())


@api.get("/estop")
def estop_state() -> Response:
    return jsonify(_robot().control_state())


@api.post("/estop")
def estop_engage() -> Response:
    return jsonify(_robot().estop())


@api.delete("/estop")
def estop_clear() -> Response:
    return jsonify(_robot().clear_estop())
