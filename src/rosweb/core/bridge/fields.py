"""What every rosbridge op shares: its options, its field checks, and the error it raises.

Checks are declarative (``field(msg, "throttle_rate", (int, float), 0)``) and their errors name
the field: ``subscribe: field throttle_rate expects a number, got "fast"``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from rosweb.errors import ValidationError

__all__ = [
    "COMPRESSIONS",
    "LEVELS",
    "BridgeOptions",
    "OpError",
    "as_dict",
    "field",
    "required",
]

LEVELS = {"info": 0, "warning": 1, "error": 2, "none": 3}
COMPRESSIONS = ("none", "cbor", "cbor-raw")


@dataclass(frozen=True)
class BridgeOptions:
    """Limits and defaults of a session."""

    queue_length: int = 10  # per subscription, when the client does not say
    max_queue_length: int = 1000
    service_timeout: float = 10.0  # default of call_service, and of browser-provided services
    fragment_timeout: float = 60.0  # an incomplete inbound fragmented message is dropped after
    max_message_size: int = 64 << 20  # bytes of one (reassembled) inbound message
    max_fragment_ids: int = 16  # fragmented messages a session may have pending at once


class OpError(Exception):
    """A bad op: reported to the client as a ``status`` error."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


_KIND_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def field(msg: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    """``msg[key]`` if it is of ``kind`` (a bool is not a number), ``default`` if absent."""
    value = msg.get(key)
    if value is None:
        return default
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join(_KIND_NAMES[k] for k in kinds)
        got = json.dumps(value, default=str)[:40]
        raise OpError(f"field {key} expects {expected}, got {got}", key)
    if isinstance(value, float) and not math.isfinite(value):  # NaN, Infinity: JSON allows them
        raise OpError(f"field {key} expects a finite number, got {value}", key)
    return value


def required(msg: dict[str, Any], key: str, kind: type | tuple[type, ...] = str) -> Any:
    if msg.get(key) is None:
        raise OpError(f"missing field {key}", key)
    return field(msg, key, kind)


def as_dict(args: Any) -> dict[str, Any]:
    if isinstance(args, dict):
        return args
    if not args:
        return {}
    raise ValidationError("rosapi services take their arguments as an object", "args")
