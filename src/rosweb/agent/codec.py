"""What crosses the agent's sockets: CBOR values, and rosweb errors as plain data.

CBOR (``cbor2``) carries a message's dict form exactly: ``bytes`` stay bytes (``uint8[]``), floats
stay floats (NaN and infinities too), ints of any ROS width, nested dicts and lists. pickle would
be ~3x faster but runs code on load: anyone who can reach the agent's socket could. Measured on
a nav_msgs/Odometry (937 B): 25 us per encode + decode; a 640x480 rgb8 Image: 0.2 ms.
"""

from __future__ import annotations

from typing import Any

import cbor2

from rosweb import errors
from rosweb.errors import GraphError, RosWebError

__all__ = ["dumps", "error_from_wire", "error_to_wire", "loads"]


def dumps(value: Any) -> bytes:
    return cbor2.dumps(value)


def loads(data: bytes) -> Any:
    return cbor2.loads(data)


def error_to_wire(err: BaseException) -> dict[str, Any]:
    """A rosweb error as data; any other exception becomes a GraphError naming its type."""
    if not isinstance(err, RosWebError) or getattr(errors, type(err).__name__, None) is not type(
        err
    ):
        return {"type": "GraphError", "message": f"{type(err).__name__}: {err}"}
    wire: dict[str, Any] = {"type": type(err).__name__, "message": str(err)}
    if isinstance(err, errors.NotFoundError):
        wire["args"] = [err.kind, err.name]
    elif isinstance(err, errors.UnknownTypeError):
        wire["args"] = [err.type_name]
    elif isinstance(err, errors.ValidationError):
        wire["args"] = [err.reason, err.field]
    elif isinstance(err, errors.LeaseHeld):
        wire["args"] = [str(err), err.holder]
    elif isinstance(err, errors.RateLimited):
        wire["args"] = [str(err), err.retry_after]
    return wire


def error_from_wire(wire: Any) -> RosWebError:
    """The error ``error_to_wire`` described, of the same class."""
    if not isinstance(wire, dict):
        return GraphError(f"agent: malformed error {wire!r}")
    cls = getattr(errors, str(wire.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, RosWebError)):
        return GraphError(str(wire.get("message")))
    try:
        err: RosWebError = cls(*wire["args"]) if "args" in wire else cls(wire.get("message", ""))
    except TypeError:
        err = GraphError(str(wire.get("message")))
    return err
