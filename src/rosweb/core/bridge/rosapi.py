"""The rosapi services rosbridge clients call for introspection, answered from the robot as the
client sees it (a :class:`~rosweb.core.guard.GuardedRobot`: hidden names are not listed, writes
need the operator role).

roslibjs and roslibpy call ``/rosapi/topics``, ``/rosapi/get_param``... as ordinary services;
rosweb answers them itself, with the request and response fields of rosapi's ``.srv`` files.
Parameter values travel as JSON text, as in rosapi.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from rosweb.core.guard import GuardedRobot
from rosweb.errors import NotFoundError, PermissionDenied, RosWebError, ValidationError
from rosweb.messages import typedefs

__all__ = ["ROSAPI", "call_rosapi"]

Graph = GuardedRobot  # topics, services, nodes, params and types as one caller sees them
Handler = Callable[[Graph, dict[str, Any]], dict[str, Any]]


def _text(args: dict[str, Any], key: str) -> str:
    value = args.get(key, "")
    if not isinstance(value, str):
        raise ValidationError(f"expects a string, got {type(value).__name__}", key)
    return value


def _topics(graph: Graph, args: dict[str, Any]) -> dict[str, Any]:
    topics = graph.topics()
    return {"topics": list(topics), "types": list(topics.values())}


def _topic_type(graph: Graph, args: dict[str, Any]) -> dict[str, Any]:
    return {"type": graph.topics().get(_text(args, "topic"), "")}  # hidden: "" as unknown


def _topics_for_type(graph: Graph, args: dict[str, Any]) -> dict[str, Any]:
    wanted = _text(args, "type")
    return {"topics": [name for name, type_name in graph.topics().items() if type_name == wanted]}


def _services(graph: Graph, args: dict[str, Any]) -> dict[str, Any]:
    return {"services": sorted([*graph.services(), *ROSAPI])}


def _service_type(graph: Graph, args: dict[str, Any]) -> dict[str, Any]:
    name = _text(args, "service")
    if name in ROSAPI:
        return {"type": f"rosapi/{name.rsplit('/', 1)[-1].title().replace('_', '')}"}
    if name not in graph.services():  # unknown or hidden
        return {"type": ""}
    try:
        return {"type": graph.service_type(name)}
    except NotFoundError:
        return {"type": ""}


def _nodes(graph: Graph, args: dict[str, Any]) -> dict[str, Any]:
    return {"nodes": graph.nodes()}


def _message_details(graph: Graph, args: dict[str, Any]) -> dict[str, Any]:
    return {"typedefs": typedefs(graph.types, _text(args, "type"))}


def _request_details(graph: Graph, args: dict[str, Any]) -> dict[str, Any]:
    return {"typedefs": typedefs(graph.types, graph.types.service(_text(args, "type")).request)}


def _response_details(graph: Graph, args: dict[str, Any]) -> dict[str, Any]:
    return {"typedefs": typedefs(graph.types, graph.types.service(_text(args, "type")).response)}


def _get_param(graph: Graph, args: dict[str, Any]) -> dict[str, Any]:
    """As rosapi: the value as JSON text; a missing param gives ``default`` (JSON text) or
    ``null``, with ``successful`` false and the reason (newer rosapi's fields)."""
    name = _text(args, "name")
    try:
        return {"value": json.dumps(graph.get_param(name)), "successful": True, "reason": ""}
    except (NotFoundError, PermissionDenied) as err:  # a hidden param reads as a missing one
        default = _text(args, "default") or _text(args, "default_value")
        if default:
            return {"value": default, "successful": True, "reason": ""}
        return {"value": "null", "successful": False, "reason": str(err)}


def _set_param(graph: Graph, args: dict[str, Any]) -> dict[str, Any]:
    text = _text(args, "value")
    try:
        value = json.loads(text)
    except ValueError:
        raise ValidationError("expects a JSON text", "value") from None
    graph.set_param(_text(args, "name"), value)
    return {"successful": True, "reason": ""}


def _has_param(graph: Graph, args: dict[str, Any]) -> dict[str, Any]:
    try:
        graph.get_param(_text(args, "name"))
    except (NotFoundError, PermissionDenied):
        return {"exists": False}
    return {"exists": True}


def _delete_param(graph: Graph, args: dict[str, Any]) -> dict[str, Any]:
    graph.delete_param(_text(args, "name"))
    return {"successful": True, "reason": ""}


def _param_names(graph: Graph, args: dict[str, Any]) -> dict[str, Any]:
    return {"names": graph.param_names()}


def _get_time(graph: Graph, args: dict[str, Any]) -> dict[str, Any]:
    now = time.time()
    return {"time": {"secs": int(now), "nsecs": int((now % 1) * 1e9)}}


def _topic_stats(graph: Graph, args: dict[str, Any]) -> dict[str, Any]:
    """rosweb's own: rate (Hz) and bandwidth (B/s) per topic as the server counts them, as
    parallel lists (``topics`` in the request: only those). -1: not received by the server."""
    names = args.get("topics") or None
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str)
                                                                   for n in names)):  # fmt: skip
        raise ValidationError("expects a list of topic names", "topics")
    rows = graph.topic_stats(names[:256] if names else None)["topics"]
    unknown = -1.0
    return {
        "topics": [r["name"] for r in rows],
        "types": [r["type"] for r in rows],
        "rates": [unknown if r["rate"] is None else r["rate"] for r in rows],
        "bandwidths": [unknown if r["bandwidth"] is None else r["bandwidth"] for r in rows],
        "counts": [r["count"] for r in rows],
    }


ROSAPI: dict[str, Handler] = {
    "/rosapi/topics": _topics,
    "/rosapi/topic_type": _topic_type,
    "/rosapi/topics_for_type": _topics_for_type,
    "/rosapi/services": _services,
    "/rosapi/service_type": _service_type,
    "/rosapi/nodes": _nodes,
    "/rosapi/message_details": _message_details,
    "/rosapi/service_request_details": _request_details,
    "/rosapi/service_response_details": _response_details,
    "/rosapi/get_param": _get_param,
    "/rosapi/set_param": _set_param,
    "/rosapi/has_param": _has_param,
    "/rosapi/delete_param": _delete_param,
    "/rosapi/get_param_names": _param_names,
    "/rosapi/get_time": _get_time,
    "/rosapi/topic_stats": _topic_stats,
}


def call_rosapi(graph: Graph, name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Answer one rosapi call; raises RosWebError (the caller reports it as a failed call)."""
    handler = ROSAPI.get(name)
    if handler is None:
        raise NotFoundError("service", name)
    result = handler(graph, args)
    if not isinstance(result, dict):  # pragma: no cover - every handler returns a dict
        raise RosWebError(f"{name} returned {type(result).__name__}")
    return result
