"""REST routes for the dashboard's insight into the robot: per-topic rates and bandwidth, the node
and topic graph, and rosweb's own event log. Reads, so any authenticated role (viewer up).

``register_insight(app)`` adds them (``RosWeb.init_app`` does); :data:`OPENAPI_PATHS` is their
part of ``/api/openapi.json``.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from rosweb.core import GuardedRobot
from rosweb.errors import ConfigError
from rosweb.web.errors import ApiError
from rosweb.web.events import install
from rosweb.web.state import request_robot

__all__ = ["OPENAPI_PATHS", "insight", "register_insight"]

insight = Blueprint("rosweb_insight", __name__, url_prefix="/api")
MAX_TOPICS_ASKED = 256


def _robot() -> GuardedRobot:
    return request_robot("rest")


@insight.get("/stats/topics")
def stats() -> Response:
    names = request.args.getlist("topic") or None
    if names is not None and len(names) > MAX_TOPICS_ASKED:
        raise ApiError(400, "bad_parameter", f"at most {MAX_TOPICS_ASKED} topics", "topic")
    return jsonify(_robot().topic_stats(names))


@insight.get("/graph")
def graph() -> Response:
    return jsonify(_robot().topic_graph())


@insight.get("/log")
def log() -> Response:
    raw = request.args.get("after", "0")
    if not raw.isdigit() or len(raw) > 18:
        raise ApiError(400, "bad_parameter", "after expects a whole number", "after")
    events, last = install(current_app.config["ROSWEB_EVENT_LOG_SIZE"]).since(int(raw))
    return jsonify(events=events, last=last)


def register_insight(app: Flask) -> None:
    """Serve the routes of this module, and start keeping rosweb's event log."""
    if app.config["ROSWEB_EVENT_LOG_SIZE"] < 1:
        raise ConfigError("ROSWEB_EVENT_LOG_SIZE expects a number of records, at least 1")
    goal = app.config["ROSWEB_GOAL_TOPIC"]
    if goal and not re.match(r"^(/[A-Za-z_][A-Za-z0-9_]*)+$", goal):  # empty: the usual one
        raise ConfigError(f"ROSWEB_GOAL_TOPIC {app.config['ROSWEB_GOAL_TOPIC']!r}: not a topic")
    install(app.config["ROSWEB_EVENT_LOG_SIZE"])
    app.register_blueprint(insight)


def _get(summary: str, description: str, schema: dict[str, Any],
         parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    op: dict[str, Any] = {
        "summary": summary,
        "description": description,
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
            "400": {"$ref": "#/components/responses/E400"},
        },
    }
    if parameters:
        op["parameters"] = parameters
    return {"get": op}


_OBJECT = {"type": "object", "additionalProperties": True}
_LIST = {"type": "array", "items": _OBJECT}

#: the OpenAPI paths of these routes
OPENAPI_PATHS: dict[str, Any] = {
    "/api/stats/topics": _get(
        "Rates and bandwidth per topic",
        "Counted by the server where messages arrive: `rate` (Hz) and `bandwidth` (B/s, ROS 1 "
        "serialized size) over the last `window` s, `count` and `bytes` in all, `size` (mean "
        "bytes a message), `last` (time of the last message). A topic the server does not "
        "receive (an image nobody watches) has `subscribed` false and no figures.",
        {"type": "object", "properties": {"window": {"type": "number"}, "topics": _LIST}},
        [
            {
                "name": "topic",
                "in": "query",
                "required": False,
                "description": "only these topics (repeat the parameter)",
                "schema": {"type": "string"},
            }
        ],
    ),
    "/api/graph": _get(
        "Who publishes, subscribes and provides what",
        "Nodes; per topic its publishers and subscribers, per service its providers (node "
        "names). `available` is false when the backend cannot tell.",
        {
            "type": "object",
            "properties": {
                "available": {"type": "boolean"},
                "nodes": {"type": "array", "items": {"type": "string"}},
                "topics": _LIST,
                "services": _LIST,
            },
        },
    ),
    "/api/log": _get(
        "rosweb's own event log",
        "Lease changes, e-stops, deadman stops and every warning of rosweb, newest last "
        "(`seq` numbers them; `after=SEQ` gives only newer ones; ROSWEB_EVENT_LOG_SIZE kept).",
        {"type": "object", "properties": {"events": _LIST, "last": {"type": "integer"}}},
        [
            {
                "name": "after",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 0},
            }
        ],
    ),
}
