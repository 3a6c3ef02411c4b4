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
    ├── ControlError             teleop / safety refused a command
    │   ├── LeaseHeld            another operator holds the control lease
    │   └── EStopEngaged         the emergency stop is latched
    ├── AuthError                no valid credentials
    ├── PermissionDenied         credentials, but a too-low role or a hidden name
    └── RateLimited              too many requests from one client

Foreign errors are wrapped at each layer boundary with ``raise ... from err``.
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

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"no {kind} {name!r}")
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
    """No valid credentials (HTTP 401)."""


class PermissionDenied(RosWebError):
    """Valid credentials, but not allowed to do this (HTTP 403)."""


class RateLimited(RosWebError):
    """Too many requests from one client (HTTP 429)."""
