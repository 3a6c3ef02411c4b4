"""One JSON shape for every error: ``{"error": {"code", "message", "field"?}}``.

Domain errors map to HTTP statuses in one table; anything unexpected is logged with its traceback
and answered 500 without one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import tornado.web
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from rosweb.errors import (
    AuthError,
    BackendUnavailable,
    ConfigError,
    ControlError,
    EStopEngaged,
    LeaseHeld,
    MessageError,
    NotFoundError,
    PermissionDenied,
    RateLimited,
    RosWebError,
    ServiceError,
    ServiceTimeout,
    TypeMismatchError,
    UnknownTypeError,
    ValidationError,
)

__all__ = [
    "ApiError",
    "TornadoJsonErrors",
    "error_of",
    "error_response",
    "query_number",
    "register_error_handlers",
    "tornado_error",
]

log = logging.getLogger(__name__)

#: exception class -> (HTTP status, error code); the first matching class in order wins
_STATUS: list[tuple[type[RosWebError], int, str]] = [
    (NotFoundError, 404, "not_found"),
    (UnknownTypeError, 404, "unknown_type"),
    (ValidationError, 422, "validation_error"),
    (MessageError, 422, "validation_error"),
    (TypeMismatchError, 409, "type_mismatch"),
    (ServiceTimeout, 504, "service_timeout"),
    (ServiceError, 502, "service_failed"),
    (BackendUnavailable, 503, "backend_unavailable"),
    (LeaseHeld, 409, "control_held"),
    (EStopEngaged, 409, "estop_engaged"),
    (ControlError, 409, "control_refused"),
    (AuthError, 401, "unauthorized"),
    (PermissionDenied, 403, "forbidden"),
    (RateLimited, 429, "rate_limited"),
    (ConfigError, 500, "config_error"),
    (RosWebError, 500, "internal_error"),
]


class ApiError(Exception):
    """An error raised by a view with its HTTP status and code."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def query_number(
    args: Mapping[str, str], key: str, default: float, low: float, high: float
) -> float:
    """A number query parameter within [low, high]; ApiError 400 naming it otherwise."""
    raw = args.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not low <= value <= high:
        raise ApiError(400, "bad_parameter", f"{key} expects a number in [{low:g}, {high:g}]", key)
    return value


def error_response(
    status: int, code: str, message: str, field: str | None = None, **extra: Any
) -> tuple[Response, int]:
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    body.update(extra)
    response = jsonify(error=body)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="rosweb"'
    return response, status


def error_of(err: RosWebError) -> tuple[int, str, str, dict[str, Any]]:
    """(HTTP status, code, message, extra fields) of a domain error: the one table, for Flask,
    Tornado and the rosbridge status messages alike."""
    for cls, status, code in _STATUS:
        if isinstance(err, cls):
            extra: dict[str, Any] = {}
            if isinstance(err, ValidationError):
                return status, code, err.reason, {"field": err.field}
            if isinstance(err, LeaseHeld):
                extra["holder"] = err.holder
            return status, code, str(err), extra
    raise AssertionError("RosWebError is in the table")  # pragma: no cover


def tornado_error(
    handler: Any, status: int, code: str, message: str, field: str | None = None, **extra: Any
) -> None:
    """The one error shape, from a native Tornado handler."""
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    body.update(extra)
    handler.set_status(status)
    if status == 401:
        handler.set_header("WWW-Authenticate", 'Bearer realm="rosweb"')
    handler.set_header("Content-Type", "application/json")
    handler.finish({"error": body})


class TornadoJsonErrors:
    """Mixin for native Tornado handlers: Tornado's own errors (405 for a method the handler does
    not serve, 400 for a malformed request) in the one JSON shape, 405 with its ``Allow``."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        handler: Any = self
        if status_code == 405:
            base = tornado.web.RequestHandler
            allowed = [
                method
                for method in base.SUPPORTED_METHODS
                if getattr(type(self), method.lower()) is not getattr(base, method.lower())
            ]
            handler.set_header("Allow", ", ".join(allowed))
        reason = handler._reason or "error"
        handler.set_header("Content-Type", "application/json")
        handler.finish({"error": {"code": reason.lower().replace(" ", "_"), "message": reason}})


def _from_rosweb(err: RosWebError) -> tuple[Response, int]:
    status, code, message, extra = error_of(err)
    if status >= 500 and not isinstance(err, ServiceError | ServiceTimeout):
        log.error("%s %s: %s", request.method, request.path, err)
    response = error_response(status, code, message, **extra)
    if isinstance(err, RateLimited):
        response[0].headers["Retry-After"] = "1"
    return response


def _from_http(err: HTTPException) -> tuple[Response, int]:
    status = err.code or 500
    code = (err.name or "error").lower().replace(" ", "_")
    response, status = error_response(status, code, err.description or err.name)
    for key, value in err.get_headers():  # 405's Allow, 416's Content-Range, ...
        if key.lower() != "content-type":
            response.headers[key] = value
    return response, status


def _from_unexpected(err: Exception) -> tuple[Response, int]:
    log.exception("unexpected error in %s %s", request.method, request.path)
    return error_response(500, "internal_error", "internal server error (logged on the server)")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(
        ApiError, lambda e: error_response(e.status, e.code, e.message, e.field)
    )
    app.register_error_handler(RosWebError, _from_rosweb)
    app.register_error_handler(HTTPException, _from_http)
    app.register_error_handler(Exception, _from_unexpected)
