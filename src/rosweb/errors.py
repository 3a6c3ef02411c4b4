"""The one exception hierarchy of rosweb.

::

    RosWebError
    ├── ConfigError              bad configuration value or backend URL
    ├── MessageError             anything about message types and values
    │   ├── UnknownTypeError     a type name the type store does not know
    │   └── ValidationError      a value does not fit its type (names the field path)
    ├── GraphError               the robot side refused or failed
    │   ├── NotFoundError        no such topic / service / param
    │   ├── TypeMismatchError    topic or service exists with another type
    │   ├── ServiceError         a service handler failed
    │   ├── ServiceTimeout       a service did not answer in time
    │   └── BackendUnavailable   the middleware is gone (master down, agent unreachable)
    ├── ControlError             teleop / safety refused a command (409)
    │   ├── LeaseHeld            another operator holds the control lease (control_held)
    │   └── EStopEngaged         the emergency stop is latched (estop_engaged)
    ├── AuthError                no or bad credentials (401 unauthorized)
    ├── PermissionDenied         credentials fine, action not allowed: a too-low role or a
    │                            hidden name (403 forbidden)
    ├── RateLimited              too many requests (429 rate_limited)
    ├── BadRequest               a request the server cannot read (400 bad_name, bad_json...)
    ├── TooBusy                  a bounded resource is full (503 too_busy, ...)
    └── ClientError              the client side of the wire (rosweb.client)
        ├── ClientConnectionError    the server cannot be reached, or the connection dropped
        ├── ClientTimeout            no answer or no message within the time asked for
        └── ServerError              an error answer the client has no better class for

Each class carries its HTTP ``status`` and wire ``code``: this module is the one error table.
The web side answers ``{"error": err.body()}`` with ``err.status``; the rosbridge session reports
``str(err)``; the agent sends ``err.to_wire()`` and rebuilds it with :func:`from_wire`; the client
maps the server's error JSON back to these classes with :func:`from_answer`, so one ``except``
clause works the same in-process, across the agent and over HTTP. Foreign errors are wrapped at
each layer boundary with ``raise ... from err``.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = [
    "AuthError",
    "BackendUnavailable",
    "BadRequest",
    "ClientConnectionError",
    "ClientError",
    "ClientTimeout",
    "ConfigError",
    "ControlError",
    "EStopEngaged",
    "GraphError",
    "LeaseHeld",
    "MessageError",
    "NotFoundError",
    "PermissionDenied",
    "RateLimited",
    "RosWebError",
    "ServerError",
    "ServiceError",
    "ServiceTimeout",
    "TooBusy",
    "TypeMismatchError",
    "UnknownTypeError",
    "ValidationError",
    "class_of",
    "from_answer",
    "from_wire",
]


class RosWebError(Exception):
    """Base of every error rosweb raises on purpose."""

    #: HTTP status and error code of the class (an instance may say a more precise code)
    status: int = 500
    code: str = "internal_error"

    def detail(self) -> dict[str, Any]:
        """Fields of the error JSON besides ``code`` and ``message`` (``field``, ``holder``)."""
        return {}

    @property
    def message(self) -> str:
        return str(self)

    def body(self) -> dict[str, Any]:
        """The one JSON error shape's inner object: ``{"code", "message", ...detail}``."""
        return {"code": self.code, "message": self.message, **self.detail()}

    def wire_args(self) -> list[Any] | None:
        """Constructor arguments that rebuild this error on the other side of the agent."""
        return None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"type": type(self).__name__, "message": str(self)}
        args = self.wire_args()
        if args is not None:
            wire["args"] = args
        return wire


class ConfigError(RosWebError):
    """A configuration value or backend URL is wrong."""

    status = 500
    code = "config_error"


class MessageError(RosWebError):
    """Something about message types or values."""

    status = 422
    code = "validation_error"


class UnknownTypeError(MessageError):
    """The type store does not know this type."""

    status = 404
    code = "unknown_type"

    def __init__(self, type_name: str) -> None:
        super().__init__(f"unknown type {type_name!r}")
        self.type_name = type_name

    def wire_args(self) -> list[Any]:
        return [self.type_name]


class ValidationError(MessageError):
    """A value does not fit its type; ``field`` is the dotted path of the offending field."""

    status = 422
    code = "validation_error"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(f"field {field}: {message}" if field else message)
        self.reason = message
        self.field = field

    @property
    def message(self) -> str:
        return self.reason

    def detail(self) -> dict[str, Any]:
        return {"field": self.field} if self.field is not None else {}

    def wire_args(self) -> list[Any]:
        return [self.reason, self.field]


class GraphError(RosWebError):
    """The robot side refused or failed."""

    status = 500
    code = "internal_error"


class NotFoundError(GraphError):
    """No such topic, service or parameter. ``kind`` says which."""

    status = 404
    code = "not_found"

    def __init__(self, kind: str, name: str, message: str | None = None) -> None:
        super().__init__(message or f"no {kind} {name!r}")
        self.kind = kind
        self.name = name

    def wire_args(self) -> list[Any]:
        return [self.kind, self.name, str(self)]


class TypeMismatchError(GraphError):
    """A topic or service exists with another type than the one asked for."""

    status = 409
    code = "type_mismatch"


class ServiceError(GraphError):
    """A service handler failed."""

    status = 502
    code = "service_failed"


class ServiceTimeout(GraphError):
    """A service did not answer in time."""

    status = 504
    code = "service_timeout"


class BackendUnavailable(GraphError):
    """The middleware is unreachable."""

    status = 503
    code = "backend_unavailable"


class ControlError(RosWebError):
    """Teleop or safety refused a command."""

    status = 409
    code = "control_refused"


class LeaseHeld(ControlError):
    """Another operator holds the control lease; ``holder`` names them."""

    status = 409
    code = "control_held"

    def __init__(self, message: str, holder: str) -> None:
        super().__init__(message)
        self.holder = holder

    def detail(self) -> dict[str, Any]:
        return {"holder": self.holder}

    def wire_args(self) -> list[Any]:
        return [str(self), self.holder]


class EStopEngaged(ControlError):
    """The emergency stop is latched: motion is refused until an operator clears it."""

    status = 409
    code = "estop_engaged"


class AuthError(RosWebError):
    """No credentials, or credentials the server does not accept (HTTP 401, ``unauthorized``)."""

    status = 401
    code = "unauthorized"


class PermissionDenied(RosWebError):
    """The credentials are valid but do not allow this action (HTTP 403, ``forbidden``)."""

    status = 403
    code = "forbidden"


class RateLimited(RosWebError):
    """Too many requests (HTTP 429, ``rate_limited``); ``retry_after`` in seconds if known."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def wire_args(self) -> list[Any]:
        return [str(self), self.retry_after]


class BadRequest(RosWebError):
    """A request the server cannot read (a bad name, a bad query parameter, bad JSON): 400. The
    instance names the precise ``code`` (``bad_name``, ``bad_parameter``, ``bad_json``)."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, code: str = "bad_request", field: str | None = None):
        super().__init__(message)
        self.code = code
        self.field = field

    def detail(self) -> dict[str, Any]:
        return {"field": self.field} if self.field is not None else {}

    def wire_args(self) -> list[Any]:
        return [str(self), self.code, self.field]


class TooBusy(RosWebError):
    """A bounded resource is full (waiting reads, encoders, pending fragments): 503, retry
    later. ``code`` names which bound."""

    status = 503
    code = "too_busy"

    def __init__(self, message: str, code: str = "too_busy") -> None:
        super().__init__(message)
        self.code = code

    def wire_args(self) -> list[Any]:
        return [str(self), self.code]


class ClientError(RosWebError):
    """Something on the client's side of the wire (:mod:`rosweb.client`)."""

    status = 500
    code = "client_error"


class ClientConnectionError(ClientError):
    """The server cannot be reached, or the connection to it was lost."""


class ClientTimeout(ClientError):
    """No answer, or no message, within the time asked for."""


class ServerError(ClientError):
    """An error answer with no better class (an internal error, an unknown code).

    ``status`` is the HTTP status (``None`` for a rosbridge ``status`` message), ``code`` the
    error code of the server's error JSON.
    """

    def __init__(self, message: str, status: int | None, code: str) -> None:
        super().__init__(message)
        self.status = status if status is not None else 0  # 0: a rosbridge status message
        self.code = code


def _classes() -> dict[str, type[RosWebError]]:
    module = sys.modules[__name__]
    return {
        name: cls
        for name in __all__
        if isinstance(cls := getattr(module, name), type) and issubclass(cls, RosWebError)
    }


def from_wire(wire: Any) -> RosWebError:
    """The error that :meth:`RosWebError.to_wire` described, of the same class."""
    if not isinstance(wire, dict):
        return GraphError(f"malformed error {wire!r}")
    cls = _classes().get(str(wire.get("type")))
    if cls is None:
        return GraphError(str(wire.get("message")))
    try:
        args = wire.get("args")
        err = cls(*args) if isinstance(args, list) else cls(str(wire.get("message", "")))
    except TypeError:
        err = GraphError(str(wire.get("message")))
    return err


#: codes a server answers with that no class declares, and the class they map back to
_ALIASES: dict[str, type[RosWebError]] = {"no_message": NotFoundError, "bad_json": ValidationError,
                                          "bad_name": ValidationError,
                                          "bad_parameter": ValidationError}  # fmt: skip
#: when the code is unknown: by HTTP status
_BY_STATUS: dict[int, type[RosWebError]] = {
    401: AuthError, 403: PermissionDenied, 404: NotFoundError, 422: ValidationError,
    429: RateLimited, 502: ServiceError, 503: BackendUnavailable, 504: ServiceTimeout,
}  # fmt: skip
_CLIENT_SIDE = (ClientError, ConfigError, BadRequest, TooBusy)


def class_of(code: str, status: int | None = None) -> type[RosWebError] | None:
    """The class of an error answer's ``code`` (or, for a code no class has, its HTTP status)."""
    deepest_first = sorted(_classes().values(), key=lambda c: -len(c.__mro__))
    for cls in deepest_first:
        if cls.code == code and cls.code != "internal_error" and not issubclass(cls, _CLIENT_SIDE):
            return cls
    return _ALIASES.get(code) or (_BY_STATUS.get(status) if status is not None else None)


def from_answer(
    status: int | None,
    code: str,
    message: str,
    *,
    field: str | None = None,
    holder: str = "",
    retry_after: float | None = None,
    kind: str = "resource",
    name: str = "",
) -> RosWebError:
    """The exception of a server's error answer (HTTP status, the error JSON's fields)."""
    cls = class_of(code, status)
    if cls is None:
        return ServerError(message, status, code or f"http_{status}")
    if issubclass(cls, NotFoundError):
        return cls(kind, name, message)
    if issubclass(cls, ValidationError):
        return cls(message, field)
    if issubclass(cls, RateLimited):
        return cls(message, retry_after)
    if issubclass(cls, LeaseHeld):
        return cls(message, holder)
    if issubclass(cls, UnknownTypeError):
        err = cls(name)
        err.args = (message,)
        return err
    return cls(message)
