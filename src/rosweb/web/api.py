"""The REST API under ``/api``: topics, services, params, types, teleop, nodes, health.

Views parse and validate input (JSON bodies through :func:`rosweb.messages.from_json`), call the
Graph, hub or teleop, and answer JSON. Errors are raised, never returned: the handlers of
:mod:`rosweb.web.errors` give them their one JSON shape.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import PathConverter

from rosweb import __version__
from rosweb.control import COMMANDS
from rosweb.errors import NotFoundError, RosWebError, TypeMismatchError, ValidationError
from rosweb.graph import normalize_name
from rosweb.messages import describe, from_json, to_json
from rosweb.web.actions import Actor
from rosweb.web.errors import ApiError, query_number
from rosweb.web.extension import get_state
from rosweb.web.openapi import openapi_spec
from rosweb.web.security import current_principal
from rosweb.web.sse import open_stream, sse_events

__all__ = ["api"]

api = Blueprint("rosweb_api", __name__, url_prefix="/api")


class NameConverter(PathConverter):
    """``<rosname:...>``: the rest of the path, whatever its characters (a newline too, which
    ``<path:...>`` does not match), so that a bad name is the view's 400, never a routing 404."""

    regex = "(?s:[^/].*?)"


@api.record_once
def _register_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters.setdefault("rosname", NameConverter)


_NAME = re.compile(r"^(/[A-Za-z_~][A-Za-z0-9_]*)+$")
_MAX_WAIT = 30.0


# -- input helpers --------------------------------------------------------------------------------


def topic_name(raw: str) -> str:
    """A topic name from a URL path; 400 if invalid."""
    return _name(raw, "topic")


def _name(raw: str, kind: str) -> str:
    """A ROS name from the URL path (``odom`` -> ``/odom``); 400 if it is not a valid name."""
    name = normalize_name(raw)
    if not _NAME.match(name):
        raise ApiError(400, "bad_name", f"{raw!r} is not a valid ROS {kind} name")
    return name


def _body(default: Any = None) -> Any:
    """The request body as JSON, whatever the content type; ``default`` when empty."""
    data = request.get_data(cache=True)
    if not data.strip():
        return default
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise ApiError(400, "bad_json", f"the body is not valid JSON: {err}") from None


def _number_arg(key: str, default: float, high: float = _MAX_WAIT) -> float:
    return query_number(request.args, key, default, 0.0, high)


def _bool_arg(key: str) -> bool:
    """A boolean query parameter, spelled as the OpenAPI spec says: true or false."""
    raw = request.args.get(key, "false")
    if raw not in ("true", "false"):
        raise ApiError(400, "bad_parameter", f"{key} expects true or false", key)
    return raw == "true"


def _actor() -> Actor:
    """The current request's principal acting on the app's robot."""
    return Actor(get_state(), current_principal(), request.remote_addr or "", "rest")


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
    state = get_state()
    graph_health = state.graph.health()
    ok = bool(graph_health.get("ok", True))
    try:  # with the agent down, the control (served by it) cannot answer either
        info = state.control.info() if ok else {}
        control = state.control.state() if ok else None
    except RosWebError:
        info, control, ok = {}, None, False
    body = {
        "ok": ok,
        "version": __version__,
        "backend": state.graph.url,
        "uptime": round(time.time() - state.started, 3),
        "graph": graph_health,
        "teleop": {key: info[key] for key in ("topic", "moving", "deadman_stops") if key in info},
        "control": control,
        "feeds": state.hub.feeds(),
    }  # fmt: skip
    return jsonify(body), 200 if ok else 503


@api.get("/nodes")
def nodes() -> Response:
    return jsonify(nodes=get_state().graph.nodes())


# -- topics ---------------------------------------------------------------------------------------


@api.get("/topics")
def topics() -> Response:
    items = _actor().topics().items()
    return jsonify(topics=[{"name": name, "type": type_name} for name, type_name in items])


@api.get("/topics/<rosname:topic>")
def latest(topic: str) -> Response:
    state = get_state()
    name = _name(topic, "topic")
    _actor().see("topic", name)
    if not state.hub.cached(name) and name not in state.graph.topics():
        raise NotFoundError("topic", name)
    timeout = _number_arg("timeout", current_app.config["ROSWEB_LATEST_TIMEOUT"])
    envelope = state.hub.latest(name, timeout)
    if envelope is None:
        raise ApiError(404, "no_message", f"no message on {name} within {timeout} s")
    head = json.dumps(
        {"topic": name, "type": envelope.type, "received": envelope.received}, separators=(",", ":")
    )
    return _json_response(f'{head[:-1]},"msg":{envelope.json}}}')


@api.get("/topics/<rosname:topic>/events")
def events(topic: str) -> Response:
    state = get_state()
    _actor().see("topic", topic_name(topic))
    consumer = open_stream(state, topic, request.args)
    response = Response(sse_events(consumer), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    return response


@api.post("/topics/<rosname:topic>")
def publish(topic: str) -> Response:
    state = get_state()
    name = _name(topic, "topic")
    actor = _actor()
    actor.write("topic", name)
    asked = request.args.get("type")
    existing = state.graph.topics().get(name)
    canonical = state.graph.types.canonical  # pkg/Name (ROS 1) or pkg/msg/Name (ROS 2)
    if asked is not None and existing is not None and canonical(asked) != existing:
        raise TypeMismatchError(f"topic {name} has type {existing}, not {canonical(asked)}")
    type_name = existing or (canonical(asked) if asked else None)
    if type_name is None:
        raise ApiError(404, "not_found", f"no topic {name!r}; give ?type= to create it")
    if not state.graph.types.has_message(type_name):
        raise ApiError(422, "unknown_type", f"unknown message type {type_name!r}", "type")
    body = _body(default={})
    if not isinstance(body, dict):
        raise ValidationError(f"expects the message as a JSON object, got {json.dumps(body)[:40]}")
    msg = from_json(state.graph.types, type_name, body)
    msg = actor.publish(name, type_name, msg, latch=_bool_arg("latch"))  # motion: clamped, guarded
    return _json_response(to_json({"topic": name, "type": type_name, "msg": msg}))


# -- services -------------------------------------------------------------------------------------


@api.get("/services")
def services() -> Response:
    items = _actor().services().items()
    return jsonify(services=[{"name": name, "type": type_name} for name, type_name in items])


@api.get("/services/<rosname:service>")
def service_info(service: str) -> Response:
    state = get_state()
    name = _name(service, "service")
    _actor().see("service", name)
    type_name = state.graph.service_type(name)
    return jsonify(name=name, type=type_name, schema=describe(state.graph.types, type_name))


@api.post("/services/<rosname:service>")
def call_service(service: str) -> Response:
    state = get_state()
    name = _name(service, "service")
    actor = _actor()
    actor.require("operator", f"calling {name}")
    actor.see("service", name)
    srv = state.graph.types.service(state.graph.service_type(name))
    body = _body(default={})
    if not isinstance(body, dict):
        raise ValidationError(f"expects the request as a JSON object, got {json.dumps(body)[:40]}")
    request_msg = from_json(state.graph.types, srv.request, body)
    timeout = _number_arg("timeout", current_app.config["ROSWEB_SERVICE_TIMEOUT"], high=300.0)
    response = actor.call(name, request_msg, timeout=timeout)
    return _json_response(to_json({"service": name, "type": srv.name, "response": response}))


# -- params ---------------------------------------------------------------------------------------


@api.get("/params")
def params() -> Response:
    actor = _actor()
    return jsonify(params=actor.param_names(), meta=actor.param_meta())


@api.get("/params/<rosname:param>")
def get_param(param: str) -> Response:
    return jsonify(_actor().get_param(_name(param, "param")))


@api.put("/params/<rosname:param>")
def set_param(param: str) -> Response:
    actor = _actor()
    name = _name(param, "param")
    actor.write("param", name)
    value = _body()
    if value is None:
        raise ValidationError(
            "expects a JSON value (number, string, boolean, list or object)", name
        )
    actor.set_param(name, value)
    return jsonify(actor.get_param(name))


@api.delete("/params/<rosname:param>")
def delete_param(param: str) -> tuple[str, int]:
    _actor().delete_param(_name(param, "param"))
    return "", 204


# -- types ----------------------------------------------------------------------------------------


@api.get("/types")
def types() -> Response:
    store = get_state().graph.types
    return jsonify(messages=store.message_types(), services=store.service_types())


@api.get("/types/<rosname:type_name>")
def type_schema(type_name: str) -> Response:
    store = get_state().graph.types
    return jsonify(describe(store, store.canonical(type_name)))


# -- teleop ---------------------------------------------------------------------------------------


@api.get("/teleop")
def teleop_info() -> Response:
    return jsonify(get_state().control.info())


@api.post("/teleop")
def teleop_command() -> Response:
    actor = _actor()
    body = _body()
    if not isinstance(body, dict):
        raise ValidationError('expects an object like {"command": "forward", "speed": 0.5}')
    unknown = set(body) - {"command", "speed"}
    if unknown:
        raise ValidationError("unknown field", sorted(unknown)[0])
    if not isinstance(body.get("command"), str):
        raise ValidationError(f"expects one of {list(COMMANDS)}", "command")
    twist = actor.command(body["command"], body.get("speed", 1.0))
    info = actor.state.control.info()
    return jsonify(
        command=body["command"], topic=info["topic"], twist=twist, timeout=info["timeout"]
    )


# -- control lease, e-stop ------------------------------------------------------------------------


@api.get("/control")
def control_state() -> Response:
    return jsonify(get_state().control.state())


@api.post("/control")
def control_acquire() -> Response:
    body = _body(default={})
    if not isinstance(body, dict) or set(body) - {"force"}:
        raise ValidationError('expects {} or {"force": true}')
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise ValidationError("expects true or false", "force")
    return jsonify(_actor().acquire(force))


@api.delete("/control")
def control_release() -> Response:
    actor = _actor()
    force = _bool_arg("force") if "force" in request.args else False
    released = actor.release(force)
    return jsonify(released=released, **actor.state.control.state())


@api.get("/estop")
def estop_state() -> Response:
    return jsonify(get_state().control.state())


@api.post("/estop")
def estop_engage() -> Response:
    return jsonify(_actor().estop())


@api.delete("/estop")
def estop_clear() -> Response:
    return jsonify(_actor().clear_estop())
