"""The client's requests and error mapping, with no I/O (rosweb.client.core)."""

from __future__ import annotations

import json

import pytest

from rosweb.client import core
from rosweb.errors import (
    AuthError,
    BackendUnavailable,
    ControlError,
    NotFoundError,
    PermissionDenied,
    RateLimited,
    RosWebError,
    ServerError,
    ServiceError,
    ServiceTimeout,
    TypeMismatchError,
    UnknownTypeError,
    ValidationError,
)


def error(code: str, status: int, field: str | None = None) -> bytes:
    body = {"code": code, "message": f"the {code}"}
    if field:
        body["field"] = field
    return json.dumps({"error": body}).encode()


@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [
        ("not_found", 404, NotFoundError),
        ("no_message", 404, NotFoundError),
        ("unknown_type", 404, UnknownTypeError),
        ("validation_error", 422, ValidationError),
        ("bad_json", 400, ValidationError),
        ("bad_parameter", 400, ValidationError),
        ("type_mismatch", 409, TypeMismatchError),
        ("control_refused", 409, ControlError),
        ("service_failed", 502, ServiceError),
        ("service_timeout", 504, ServiceTimeout),
        ("backend_unavailable", 503, BackendUnavailable),
        ("unauthorized", 401, AuthError),
        ("forbidden", 403, PermissionDenied),
        ("rate_limited", 429, RateLimited),
        ("internal_error", 500, ServerError),
    ],
)
def test_every_error_code_maps_to_its_class_with_the_message(
    code: str, status: int, cls: type[RosWebError]
) -> None:
    request = core.latest("/odom", None)
    with pytest.raises(cls) as raised:
        core.answer(request, status, error(code, status), {})
    assert type(raised.value) is cls
    assert str(raised.value) == f"the {code}"


def test_details_travel_with_the_error() -> None:
    with pytest.raises(ValidationError) as bad:
        core.answer(core.publish("/cmd_vel", {}, None, False), 422,
                    error("validation_error", 422, "linear.x"), {})  # fmt: skip
    assert bad.value.field == "linear.x"
    with pytest.raises(NotFoundError) as missing:
        core.answer(core.get_param("robot/gain"), 404, error("not_found", 404), {})
    assert (missing.value.kind, missing.value.name) == ("param", "robot/gain")
    with pytest.raises(RateLimited) as limited:
        core.answer(core.topics(), 429, error("rate_limited", 429), {"Retry-After": "3"})
    assert limited.value.retry_after == 3.0
    with pytest.raises(ServerError) as odd:
        core.answer(core.topics(), 418, b"<html>teapot</html>", {})
    assert (odd.value.status, odd.value.code) == (418, "http_418")


def test_an_unknown_code_falls_back_on_the_status() -> None:
    with pytest.raises(AuthError):
        core.answer(core.topics(), 401, error("token_expired", 401), {})


def test_health_503_is_an_answer_not_an_error() -> None:
    assert core.answer(core.health(), 503, b'{"ok": false}', {}) == {"ok": False}


def test_requests_quote_names_and_carry_json_bodies() -> None:
    request = core.publish("/camera/image_raw", {"data": b"\x00\xff"}, "sensor_msgs/Image", True)
    assert request.path == "/api/topics/camera/image_raw"
    assert request.params == {"type": "sensor_msgs/Image", "latch": "true"}
    assert json.loads(request.body or "") == {"data": "AP8="}  # bytes as base64
    assert core.get_param("/robot/max speed").path == "/api/params/robot/max%20speed"
    assert core.call("/reset", None, 3).wait == 3


def test_websocket_url_carries_the_token() -> None:
    assert core.ws_url("http://robot:8080", None) == "ws://robot:8080/ws"
    assert core.ws_url("https://robot/base/", "a b&c") == "wss://robot/base/ws?token=a+b%26c"
