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
    └── ClientError              the client side of the wire (rosweb.client)
        ├── ClientConnectionError    the server cannot be reached, or the connection dropped
        ├── ClientTimeout            no answer or no message within the time asked for
        └── ServerError              an error answer the client has no better class for

Foreign errors are wrapped at each layer boundary with ``raise ... from err``. The client maps the
server's error JSON back to these classes (:mod:`rosweb.client.errors`), so one ``except`` clause
works the same in-process and over HTTP.
"""

from __future__ import annotations


class RosWebError(Exception):
    """Base of every error rosweb raises on purpose."""


class ConfigError(RosWebError):
    """A configuration value or backend URL is wrong."""


class MessageError(RosWebError):
    """Something about message types or values."""


class UnknownTypeError(MessageError):
    """The type store does not know this type."""

    def __init__(self, type_name: str) -> None:
        super().__init__(f"unknown type {type_name!r}")
        self.type_name = type_name


class ValidationError(MessageError):
    """A value does not fit its type; ``field`` is the dotted path of the offending field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(f"field {field}: {message}" if field else message)
        self.reason = message
        self.field = field


class GraphError(RosWebError):
    """The robot side refused or failed."""


class NotFoundError(GraphError):
    """No such topic, service or parameter. ``kind`` says which."""

    def __init__(self, kind: str, name: str, message: str | None = None) -> None:
        super().__init__(message or f"no {kind} {name!r}")
        self.kind = kind
        self.name = name


class TypeMismatchError(GraphError):
    """A topic or service exists with another type than the one asked for."""


class ServiceError(GraphError):
    """A service handler failed."""


class ServiceTimeout(GraphError):
    """A service did not answer in time."""


class BackendUnavailable(GraphError):
    """The middleware is unreachable."""


class ControlError(RosWebError):
    """Teleop or safety refused a command."""


class LeaseHeld(ControlError):
    """Another operator holds the control lease; ``holder`` names them."""

    def __init__(self, message: str, holder: str) -> None:
        super().__init__(message)
        self.holder = holder


class EStopEngaged(ControlError):
    """The emergency stop is latched: motion is refused until an operator clears it."""


class AuthError(RosWebError):
    """No credentials, or credentials the server does not accept (HTTP 401, ``unauthorized``)."""


class PermissionDenied(RosWebError):
    """The credentials are valid but do not allow this action (HTTP 403, ``forbidden``)."""


class RateLimited(RosWebError):
    """Too many requests (HTTP 429, ``rate_limited``); ``retry_after`` in seconds if known."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ClientError(RosWebError):
    """Something on the client's side of the wire (:mod:`rosweb.client`)."""


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
        self.status = status
        self.code = code
