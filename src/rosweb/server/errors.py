"""The one JSON error shape from native Tornado handlers, and their gate."""

from __future__ import annotations

from typing import Any

import tornado.web

from rosweb.core import GuardedRobot
from rosweb.errors import RosWebError
from rosweb.web.state import RosWebState

__all__ = ["TornadoJsonErrors", "tornado_error", "write_error_of"]


def tornado_error(
    handler: Any, status: int, code: str, message: str, field: str | None = None, **extra: Any
) -> None:
    """Answer ``{"error": {...}}`` with ``status`` from a native Tornado handler."""
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    body.update(extra)
    handler.set_status(status)
    if status == 401:
        handler.set_header("WWW-Authenticate", 'Bearer realm="rosweb"')
    handler.set_header("Content-Type", "application/json")
    handler.finish({"error": body})


def write_error_of(handler: Any, err: RosWebError) -> None:
    """Answer a domain error with its class's status and body."""
    body = err.body()
    tornado_error(handler, err.status, body.pop("code"), body.pop("message"), **body)


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


def viewer(handler: Any, state: RosWebState, via: str) -> GuardedRobot:
    """The robot as the caller of a native read (SSE, MJPEG) may use it: identified by the gate,
    at least a viewer. Raises AuthError or PermissionDenied."""
    principal = state.gate.identify_tornado(handler)
    state.gate.require(principal, "viewer", handler.request.path)
    robot: GuardedRobot = state.bind(principal, handler.request.remote_ip or "", via)
    return robot
