"""The OpenAPI 3 document of the REST API, served at ``/api/openapi.json``.

Written as data next to the routes it describes; a test checks that every route of the app is in
it with every method, and that the document is valid OpenAPI 3.
"""

from __future__ import annotations

import copy
from typing import Any

from rosweb import __version__
from rosweb.web.api_stats import OPENAPI_PATHS
from rosweb.web.webrtc import openapi_paths as webrtc_paths

__all__ = ["openapi_spec"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"$ref": f"#/components/responses/E{s}"} for s in statuses}


def _path_param(name: str, description: str, example: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
        "example": example,
    }


def _timeout(high: float) -> dict[str, Any]:
    return {
        "name": "timeout",
        "in": "query",
        "required": False,
        "schema": {"type": "number", "minimum": 0, "maximum": high},
        "description": "seconds to wait",
    }


_OBJECT = {"type": "object", "additionalProperties": True}
_ANY = {"description": "any JSON value"}
_NAMED = {
    "type": "object",
    "required": ["name", "type"],
    "properties": {"name": {"type": "string"}, "type": {"type": "string"}},
}
_ERROR_TEXT = {
    400: "Bad request: invalid JSON, name or query parameter",
    404: "Not found (unknown topic, service, param or type; no message yet)",
    401: "Authentication required, or the token is invalid",
    403: "Forbidden: the role is too low, the name is not exposed, or a cross-origin or CSRF "
    "check failed",
    409: "Conflict: the topic exists with another type; another operator holds the control "
    "lease (holder names them); the e-stop is engaged",
    413: "The body is larger than ROSWEB_MAX_BODY",
    422: "Validation error: the body does not fit the type (names the field)",
    429: "Too many requests from this client (ROSWEB_RATE_LIMIT); see Retry-After",
    501: "Not available here: an optional extra is not installed (the message says which)",
    502: "The service handler failed",
    503: "The backend is unavailable, or this process runs no node",
    504: "The service did not answer in time",
}


def openapi_spec() -> dict[str, Any]:
    topic = _path_param("topic", "topic name without its leading slash", "odom")
    service = _path_param("service", "service name without its leading slash", "reset")
    param = _path_param("param", "parameter name without its leading slash", "robot/scan_rate")
    type_param = _path_param("type_name", "message or service type", "geometry_msgs/Twist")
    paths: dict[str, Any] = {
        "/api/": {
            "get": {"summary": "Index of the API", "responses": {"200": _json(_OBJECT)}},
        },
        "/api/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": _json(_OBJECT)}},
        },
        "/api/health": {
            "get": {
                "summary": "Health of the server and the backend",
                "responses": {"200": _json(_ref("Health")), **_errors(503)},
            }
        },
        "/api/nodes": {
            "get": {
                "summary": "Nodes of the robot graph",
                "responses": {"200": _json(_list_of("nodes", {"type": "string"}))},
            }
        },
        "/api/topics": {
            "get": {
                "summary": "Topics with their types",
                "responses": {"200": _json(_list_of("topics", _NAMED))},
            }
        },
        "/api/topics/{topic}": {
            "get": {
                "summary": "Latest message on a topic",
                "description": "Subscribes the topic on first use; waits up to `timeout` s "
                "(default ROSWEB_LATEST_TIMEOUT) for a first message.",
                "parameters": [topic, _timeout(30)],
                "responses": {"200": _json(_ref("TopicMessage")), **_errors(400, 404)},
            },
            "post": {
                "summary": "Publish a message",
                "description": "The body is the message as JSON; missing fields get defaults. "
                "Twists to the teleop topic are clamped and expire after the deadman timeout.",
                "parameters": [
                    topic,
                    {
                        "name": "type",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "message type; needed when the topic does not exist yet",
                    },
                    {
                        "name": "latch",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "boolean"},
                    },
                ],
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": _OBJECT}},
                },
                "responses": {"200": _json(_ref("TopicMessage")), **_errors(400, 404, 409, 422)},
            },
        },
        "/api/topics/{topic}/events": {
            "get": {
                "summary": "The topic as a stream of server-sent events (text/event-stream)",
                "description": "Each event's data is one message as JSON.",
                "parameters": [
                    topic,
                    {
                        "name": "throttle_rate",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "number", "minimum": 0},
                        "description": "minimum milliseconds between two events",
                    },
                    {
                        "name": "queue_length",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 0, "maximum": 1000},
                        "description": "messages kept for a slow reader (the newest win)",
                    },
                ],
                "responses": {
                    "200": {
                        "description": "An endless event stream",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    **_errors(400, 404),
                },
            }
        },
        "/api/services": {
            "get": {
                "summary": "Services with their types",
                "responses": {"200": _json(_list_of("services", _NAMED))},
            }
        },
        "/api/services/{service}": {
            "get": {
                "summary": "A service's type and request/response schema",
                "parameters": [service],
                "responses": {"200": _json(_OBJECT), **_errors(400, 404)},
            },
            "post": {
                "summary": "Call a service",
                "parameters": [service, _timeout(300)],
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": _OBJECT}},
                },
                "responses": {
                    "200": _json(_ref("ServiceResponse")),
                    **_errors(400, 404, 422, 502, 504),
                },
            },
        },
        "/api/params": {
            "get": {
                "summary": "Parameter names, and metadata (ranges) where the backend has it",
                "responses": {"200": _json(_OBJECT)},
            }
        },
        "/api/params/{param}": {
            "get": {
                "summary": "A parameter's value (a namespace reads as an object)",
                "parameters": [param],
                "responses": {"200": _json(_ANY), **_errors(400, 404)},
            },
            "put": {
                "summary": "Set a parameter; the body is the JSON value",
                "parameters": [param],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ANY}},
                },
                "responses": {"200": _json(_ANY), **_errors(400, 422)},
            },
            "delete": {
                "summary": "Delete a parameter",
                "parameters": [param],
                "responses": {"204": {"description": "Deleted"}, **_errors(400, 404)},
            },
        },
        "/api/types": {
            "get": {
                "summary": "Known message and service types",
                "responses": {"200": _json(_OBJECT)},
            }
        },
        "/api/types/{type_name}": {
            "get": {
                "summary": "Schema of a type: fields, constants, md5sum, definition",
                "parameters": [type_param],
                "responses": {"200": _json(_OBJECT), **_errors(404)},
            }
        },
        "/api/teleop": {
            "get": {
                "summary": "Teleop settings: topic, commands, speeds, deadman timeout",
                "responses": {"200": _json(_OBJECT)},
            },
            "post": {
                "summary": "Send a teleop command (forward, back, left, right, stop)",
                "description": "A motion lasts ROSWEB_TELEOP_TIMEOUT seconds unless repeated.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("TeleopCommand")}},
                },
                "responses": {"200": _json(_OBJECT), **_errors(400, 422)},
            },
        },
        "/api/control": {
            "get": {
                "summary": "Who drives: the control lease, the e-stop, whether the robot moves",
                "responses": {"200": _json(_ref("Control"))},
            },
            "post": {
                "summary": "Take the control lease (admins may force a take-over)",
                "description": "Motion takes a free lease by itself; the holder's commands "
                "renew it; it expires ROSWEB_CONTROL_TTL s after the last one.",
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"force": {"type": "boolean"}},
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {"200": _json(_ref("Control")), **_errors(400, 409, 422)},
            },
            "delete": {
                "summary": "Give the control lease back (the robot stops)",
                "parameters": [
                    {
                        "name": "force",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "boolean"},
                        "description": "admins: release whoever holds it",
                    }
                ],
                "responses": {"200": _json(_ref("Control")), **_errors(400)},
            },
        },
        "/api/estop": {
            "get": {
                "summary": "The e-stop latch (same body as GET /api/control)",
                "responses": {"200": _json(_ref("Control"))},
            },
            "post": {
                "summary": "Engage the e-stop: zero Twists now and repeatedly, motion refused",
                "description": "Any authenticated user (viewers too) may stop the robot.",
                "responses": {"200": _json(_ref("Control"))},
            },
            "delete": {
                "summary": "Clear the e-stop (operators)",
                "responses": {"200": _json(_ref("Control"))},
            },
        },
        "/api/whoami": {
            "get": {
                "summary": "Who the server thinks you are; the CSRF token of a login session",
                "responses": {"200": _json(_OBJECT)},
            }
        },
    }
    paths.update(webrtc_paths(_json, _errors))
    paths.update(copy.deepcopy(OPENAPI_PATHS))  # the insight routes (web/api_stats.py)
    public = {"/api/", "/api/openapi.json"}
    for path, item in paths.items():
        for method, operation in item.items():
            responses = operation["responses"]
            if path not in public:
                responses.update(_errors(401, 403))
                operation["security"] = [{"bearer": []}, {"session": []}]
            if method != "get":
                responses.update(_errors(413, 429))
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "rosweb",
            "version": __version__,
            "description": "Drive, watch and tune a robot over HTTP.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "field": {"type": "string"},
                                "holder": {"type": "string"},
                            },
                        }
                    },
                },
                "TopicMessage": {
                    "type": "object",
                    "required": ["topic", "type", "msg"],
                    "properties": {
                        "topic": {"type": "string"},
                        "type": {"type": "string"},
                        "received": {"type": "number"},
                        "msg": _OBJECT,
                    },
                },
                "ServiceResponse": {
                    "type": "object",
                    "required": ["service", "type", "response"],
                    "properties": {
                        "service": {"type": "string"},
                        "type": {"type": "string"},
                        "response": _OBJECT,
                    },
                },
                "TeleopCommand": {
                    "type": "object",
                    "required": ["command"],
                    "properties": {
                        "command": {
                            "type": "string",
                            "enum": ["forward", "back", "left", "right", "stop"],
                        },
                        "speed": {"type": "number", "minimum": 0, "maximum": 1},
                    },
                },
                "Control": {
                    "type": "object",
                    "properties": {
                        "holder": {"type": "string", "nullable": True},
                        "user": {"type": "string", "nullable": True},
                        "since": {"type": "number", "nullable": True},
                        "expires_in": {"type": "number", "nullable": True},
                        "ttl": {"type": "number"},
                        "estop": {"type": "object", "nullable": True},
                        "moving": {"type": "boolean"},
                    },
                },
                "Health": {
                    "type": "object",
                    "required": ["ok", "backend"],
                    "properties": {
                        "ok": {"type": "boolean"},
                        "backend": {"type": "string"},
                        "version": {"type": "string"},
                        "uptime": {"type": "number"},
                    },
                },
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
            "responses": {
                f"E{status}": {
                    "description": text,
                    "content": {"application/json": {"schema": _ref("Error")}},
                }
                for status, text in _ERROR_TEXT.items()
            },
        },
    }


def _list_of(key: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [key],
        "properties": {key: {"type": "array", "items": item}},
    }
