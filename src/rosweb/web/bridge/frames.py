"""Wire frames of the rosbridge protocol: JSON text or CBOR bytes, whole or in fragments.

Pure functions: the session decides what to send, these decide how it looks on the wire.
"""

from __future__ import annotations

import json
import math
from typing import Any

import cbor2

from rosweb.messages import to_json

__all__ = ["Frame", "decode", "encode", "fragments"]

Frame = str | bytes


class FrameError(ValueError):
    """An incoming frame is not a rosbridge message."""


def decode(data: Frame) -> dict[str, Any]:
    """An incoming frame (JSON text, or CBOR bytes) as a dict; raises FrameError."""
    try:
        message = cbor2.loads(data) if isinstance(data, bytes) else json.loads(data)
    except (ValueError, cbor2.CBORDecodeError, UnicodeDecodeError) as err:
        raise FrameError(
            f"not valid {'CBOR' if isinstance(data, bytes) else 'JSON'}: {err}"
        ) from err
    except RecursionError:  # [[[[...]]]]: the decoder's recursion, not the server's problem
        raise FrameError(
            f"{'CBOR' if isinstance(data, bytes) else 'JSON'} nested too deeply"
        ) from None
    if not isinstance(message, dict):
        raise FrameError(f"a message must be a JSON object, got {type(message).__name__}")
    return message


def encode(message: dict[str, Any], compression: str = "none") -> Frame:
    """A message as a frame: compact JSON (bytes as base64, NaN as null) or CBOR."""
    if compression in ("cbor", "cbor-raw"):
        return bytes(cbor2.dumps(message))
    return to_json(message)


def fragments(frame: str, size: int, fragment_id: str) -> list[str]:
    """``frame`` cut into rosbridge ``fragment`` messages of at most ``size`` characters of data."""
    total = max(1, math.ceil(len(frame) / size))
    return [
        json.dumps(
            {
                "op": "fragment",
                "id": fragment_id,
                "data": frame[i * size : (i + 1) * size],
                "num": i,
                "total": total,
            },
            separators=(",", ":"),
        )
        for i in range(total)
    ]
