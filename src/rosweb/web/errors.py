"""One JSON shape for every error: ``{"error": {"code", "message", "field"?}}``.

The status and code of a domain error are its class's (:mod:`rosweb.errors` is the one table);
anything unexpected is logged with its traceback and answered 500 without one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from rosweb.core.names import number_arg
from rosweb.errors import RateLimited, RosWebError, ServiceError, ServiceTimeout

__all__ = [
    "ApiError",
    "error_response",
    "query_number",
    "register_error_handlers",
]

log = logging.getLogger(__name__)


class ApiError(RosWebError):
    """An error of the web layer itself, with its HTTP status and code (``no_node``...)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.field = field

    def detail(self) -> dict[str, Any]:
        return {"field": self.field} if self.field is not None else {}


def query_number(
    args: Mapping[str, str], key: str, default: float, low: float, high: float
) -> float:
    """A number query parameter within [low, high]; 400 naming it otherwise."""
    return number_arg(args, key, default, low, high)


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


def _from_rosweb(err: RosWebError) -> tuple[Response, int]:
    if err.status >= 500 and not isinstance(err, ServiceError | ServiceTimeout):
        log.error("%s %s: %s", request.method, request.path, err)
    body = err.body()
    response = error_response(err.status, body.pop("code"), body.pop("message"), **body)
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
    if isinstance(err, RecursionError | OverflowError):  # JSON too deep, a number too big
        return error_response(400, "bad_json", f"the body cannot be read: {err}")
    log.exception("unexpected error in %s %s", request.method, request.path)
    return error_response(500, "internal_error", "internal server error (logged on the server)")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(RosWebError, _from_rosweb)
    app.register_error_handler(HTTPException, _from_http)
    app.register_error_handler(Exception, _from_unexpected)
