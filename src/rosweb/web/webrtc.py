"""WebRTC signalling over REST, and the webcam page.

One request per session, SDP in and SDP out (no trickle: the answer carries every candidate):

- ``POST /api/webrtc/offer`` ``{topic, sdp, type, width?, bitrate?, codec?}``: the browser
  receives an image topic (viewer role, the topic visible to the caller, as MJPEG).
- ``POST /api/webrtc/publish`` ``{topic, sdp, type, width?, jpeg?}``: the browser sends its
  camera to a topic (operator role; every frame goes through the caller's guarded publish).
- ``DELETE /api/webrtc/sessions/<id>``: close a session (its owner, or an admin).
- ``GET /api/webrtc``: whether WebRTC works here, the ICE servers, the sessions and encoders.
- ``GET /webcam``: a page sending this browser's camera to a topic.

These are short requests, so they are Flask routes (through ``rosweb run``'s WSGI container
too); the media flow on aiortc's own thread (:mod:`rosweb.core.video.webrtc`).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request

from rosweb.errors import ValidationError
from rosweb.web.errors import ApiError
from rosweb.web.security import current_principal
from rosweb.web.video import caller_publish, image_type, video_of

__all__ = ["openapi_paths", "webrtc_blueprint"]

webrtc_blueprint = Blueprint("rosweb_webrtc", __name__)

_NAME = re.compile(r"^(/[A-Za-z_][A-Za-z0-9_]*)+$")
MAX_BITRATE = 8_000_000
WEBCAM_TOPIC = "/webcam/image_raw"


def _parts() -> tuple[Any, Any]:
    """(the rosweb state, the video parts) of this app; 503 in a process without a node."""

    state = current_app.extensions.get("rosweb")
    if state is None:
        raise ApiError(503, "no_node", "this process runs no robot node (reloader watcher)")
    return state, video_of(current_app)


def _webrtc() -> tuple[Any, Any]:
    state, video = _parts()
    webrtc = video.start_webrtc()
    if webrtc is None:
        raise ApiError(501, "unavailable", video.unavailable or "WebRTC is off")
    return state, webrtc


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", "expects a JSON object: {topic, sdp, type}")
    return body


def _topic(body: dict[str, Any], default: str | None = None) -> str:
    topic = body.get("topic", default)
    if not isinstance(topic, str) or not topic:
        raise ApiError(400, "bad_name", "expects topic: the name of an image topic", "topic")
    topic = "/" + topic.strip("/")
    if not _NAME.match(topic):
        raise ApiError(400, "bad_name", f"{topic!r} is not a valid ROS topic name", "topic")
    return topic


def _integer(body: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValidationError(f"expects an integer in [{low}, {high}], got {value!r}", key)
    return value


def _answered(call: Any) -> Response:
    from rosweb.core.video.webrtc import OfferTimeout, SessionLimit

    try:
        answer = call()
    except SessionLimit as err:
        raise ApiError(503, "too_many_sessions", str(err)) from err
    except OfferTimeout as err:
        raise ApiError(504, "offer_timeout", str(err)) from err
    return jsonify(answer)


@webrtc_blueprint.get("/api/webrtc")
def info() -> Response:
    state, video = _parts()
    principal = current_principal()
    robot = state.bind(principal, request.remote_addr or "", "webrtc")
    webrtc = video.webrtc
    body: dict[str, Any] = {
        "available": video.make_webrtc is not None or webrtc is not None,
        "reason": video.unavailable,
        "codecs": ["vp8", "h264"],
        "ice_servers": [
            url
            for url in current_app.config["ROSWEB_WEBRTC_ICE_SERVERS"]
            if url.startswith("stun:")
        ],
        "secure": request.is_secure,
        "max_sessions": current_app.config["ROSWEB_WEBRTC_MAX_SESSIONS"],
        "sessions": [],
        "encoders": [],
    }
    if webrtc is not None:
        mine = principal.at_least("admin")
        body["sessions"] = [
            s for s in webrtc.sessions() if mine or s["owner"] == principal.user
        ]  # fmt: skip
        body["encoders"] = [e for e in webrtc.encoders() if robot.visible("topic", e["topic"])]
    return jsonify(body)


@webrtc_blueprint.post("/api/webrtc/offer")
def offer() -> Response:
    """Receive an image topic: the answer to the browser's offer."""
    from rosweb.core.video.encoder import CODECS, Variant

    state, webrtc = _webrtc()
    body = _body()
    topic = _topic(body)
    image_type(state, current_principal(), topic)
    codec = body.get("codec", "vp8")
    if codec not in CODECS:
        raise ValidationError(f"expects one of {list(CODECS)}, got {codec!r}", "codec")
    cfg = current_app.config
    variant = Variant(
        topic,
        _integer(body, "width", 0, 0, 4096),
        _integer(body, "bitrate", cfg["ROSWEB_WEBRTC_BITRATE"], 100_000, MAX_BITRATE),
        codec,
    )
    owner = current_principal().user
    return _answered(lambda: webrtc.view(body, variant, owner))


@webrtc_blueprint.post("/api/webrtc/publish")
def publish() -> Response:
    """Send the browser's camera to a topic: the answer to its offer."""

    state, webrtc = _webrtc()
    body = _body()
    topic = _topic(body, WEBCAM_TOPIC)
    principal = current_principal()
    guarded = caller_publish(state, principal, request.remote_addr or "", topic)
    jpeg = body.get("jpeg", topic.endswith("/compressed"))
    if not isinstance(jpeg, bool):
        raise ValidationError(f"expects true or false, got {jpeg!r}", "jpeg")
    width = _integer(body, "width", 0, 0, 4096)
    return _answered(
        lambda: webrtc.receive(body, topic, guarded, width=width, jpeg=jpeg, owner=principal.user)
    )


@webrtc_blueprint.delete("/api/webrtc/sessions/<sid>")
def close(sid: str) -> Response:
    _, webrtc = _webrtc()
    principal = current_principal()
    owner = None if principal.at_least("admin") else principal.user
    if not webrtc.close_session(sid, owner):
        raise ApiError(404, "not_found", f"no WebRTC session {sid} of yours")
    return jsonify(closed=sid)


@webrtc_blueprint.get("/webcam")
def webcam() -> str:
    """The page that sends this browser's camera to a topic."""
    from flask_wtf.csrf import generate_csrf  # type: ignore[import-untyped]

    principal = current_principal()
    page = {
        "root": request.script_root,
        "topic": request.args.get("topic", WEBCAM_TOPIC),
        "role": principal.role,
        "user": principal.user,
        "csrf_token": generate_csrf() if principal.via == "session" else "",
    }
    return render_template("rosweb/webcam.html", page=page)


# -- OpenAPI ---------------------------------------------------------------------------------------


def _answer_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["id", "type", "sdp"],
        "properties": {
            "id": {"type": "string", "description": "the session, for DELETE"},
            "type": {"type": "string", "enum": ["answer"]},
            "sdp": {"type": "string"},
            "codec": {"type": "string"},
        },
    }


def _offer_body(extra: dict[str, Any]) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["sdp"],
        "properties": {
            "topic": {"type": "string"},
            "type": {"type": "string", "enum": ["offer"]},
            "sdp": {"type": "string", "description": "the browser's offer, every candidate in"},
            "width": {"type": "integer", "minimum": 0, "maximum": 4096},
            **extra,
        },
    }
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def openapi_paths(json: Any, errors: Any) -> dict[str, Any]:
    """The WebRTC routes for the OpenAPI document (``json(schema)``, ``errors(*statuses)``)."""
    answer = json(_answer_schema())
    return {
        "/api/webrtc": {
            "get": {
                "summary": "Whether WebRTC works here, its ICE servers, your sessions, encoders",
                "responses": {"200": json({"type": "object"})},
            }
        },
        "/api/webrtc/offer": {
            "post": {
                "summary": "Receive an image topic over WebRTC: the answer to an SDP offer",
                "description": "Viewers of one (topic, width, bitrate, codec) share an encoder.",
                "requestBody": _offer_body(
                    {
                        "bitrate": {"type": "integer", "minimum": 100000, "maximum": MAX_BITRATE},
                        "codec": {"type": "string", "enum": ["vp8", "h264"]},
                    }
                ),
                "responses": {"200": answer, **errors(400, 404, 422, 501, 503, 504)},
            }
        },
        "/api/webrtc/publish": {
            "post": {
                "summary": "Send the browser's camera to a topic over WebRTC (operators)",
                "requestBody": _offer_body({"jpeg": {"type": "boolean"}}),
                "responses": {"200": answer, **errors(400, 422, 501, 503, 504)},
            }
        },
        "/api/webrtc/sessions/{sid}": {
            "delete": {
                "summary": "Close a WebRTC session (yours; an admin's: any)",
                "parameters": [
                    {"name": "sid", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {"200": json({"type": "object"}), **errors(404)},
            }
        },
    }


def register_video_routes(app: Flask) -> None:
    """Serve the WebRTC signalling routes and the webcam page."""
    app.register_blueprint(webrtc_blueprint)
