"""What crosses the agent's sockets: CBOR values, and rosweb errors as plain data.

CBOR (``cbor2``) carries a message's dict form exactly: ``bytes`` stay bytes (``uint8[]``), floats
stay floats (NaN and infinities too), ints of any ROS width, nested dicts and lists. pickle would
be ~3x faster but runs code on load: anyone who can reach the agent's socket could. Measured on
a nav_msgs/Odometry (937 B): 25 us per encode + decode; a 640x480 rgb8 Image: 0.2 ms.
"""

from __future__ import annotations

from typing import Any

import cbor2

from rosweb.errors import RosWebError, from_wire

__all__ = ["dumps", "error_from_wire", "error_to_wire", "loads"]


def dumps(value: Any) -> bytes:
    return cbor2.dumps(value)


def loads(data: bytes) -> Any:
    return cbor2.loads(data)


def error_to_wire(err: BaseException) -> dict[str, Any]:
    """A rosweb error as data (its class's own :meth:`~rosweb.errors.RosWebError.to_wire`); any
    other exception becomes a GraphError naming its type."""
    if isinstance(err, RosWebError):
        return err.to_wire()
    return {"type": "GraphError", "message": f"{type(err).__name__}: {err}"}


def error_from_wire(wire: Any) -> RosWebError:
    """The error ``error_to_wire`` described, of the same class."""
    return from_wire(wire)
