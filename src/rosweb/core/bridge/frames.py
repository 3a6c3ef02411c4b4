"""Wire frames of the rosbridge protocol: JSON text or CBOR bytes, whole or in fragments.

Pure functions: the session decides what to send, these decide how it looks on the wire.
"""

from __future__ import annotations

import json
import math
import re
import struct
from typing import Any

from rosweb.messages import to_json

__all__ = ["Frame", "decode", "encode", "fragments", "websocket_frame"]

Frame = str | bytes


class FrameError(ValueError):
    """An incoming frame is not a rosbridge message."""


#: deepest nesting of an incoming frame (the deepest ROS message is far shallower); deeper ones
#: are refused before decoding, so the decoders never recurse into a RecursionError (which can
#: leave CPython 3.11's per-thread recursion accounting wrong for later compile() calls)
MAX_DEPTH = 64
_STRING = re.compile(rb'"(?:\\.|[^"\\])*"')


def _too_deep(data: Frame) -> bool:
    """JSON text nested deeper than MAX_DEPTH (CBOR is left to its decoder's own guard)."""
    if isinstance(data, bytes):
        return False
    raw = data.encode("utf-8", "surrogatepass")
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return False  # cannot be deeper than its count of openers: the common case, small ops
    import numpy as np  # here: a robot whose clients send small ops never loads it (16 MB)

    text = np.frombuffer(_STRING.sub(b"", raw), dtype=np.uint8)
    steps = np.zeros(len(text), dtype=np.int32)
    steps[(text == ord("[")) | (text == ord("{"))] = 1
    steps[(text == ord("]")) | (text == ord("}"))] = -1
    return bool(len(steps) and np.cumsum(steps).max() > MAX_DEPTH)


def _cbor2() -> Any:
    """cbor2, imported by the first CBOR frame (a server whose clients speak JSON never loads
    it: 0.8 MB of an idle process)."""
    import cbor2

    return cbor2


def decode(data: Frame) -> dict[str, Any]:
    """An incoming frame (JSON text, or CBOR bytes) as a dict; raises FrameError."""
    if _too_deep(data):
        kind = "CBOR" if isinstance(data, bytes) else "JSON"
        raise FrameError(f"{kind} nested deeper than {MAX_DEPTH} levels")
    errors: tuple[type[Exception], ...] = (ValueError, UnicodeDecodeError)
    if isinstance(data, bytes):
        cbor2 = _cbor2()
        errors += (cbor2.CBORDecodeError,)
    try:
        message = cbor2.loads(data) if isinstance(data, bytes) else json.loads(data)
    except errors as err:
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


_ID = re.compile(r'"id"\s*:\s*("(?:[^"\\]|\\.){0,200}"|-?\d{1,18})')


def guess_id(data: Frame) -> str | int | None:
    """The ``id`` of a JSON frame that cannot be decoded (a huge number elsewhere in it...), read
    from its text, so that the client's status error still names its request."""
    if not isinstance(data, str):
        return None
    found = _ID.search(data[:4096])
    if found is None:
        return None
    try:
        value = json.loads(found.group(1))
    except ValueError:
        return None
    return value if isinstance(value, str | int) else None


def encode(message: dict[str, Any], compression: str = "none") -> Frame:
    """A message as a frame: compact JSON (bytes as base64, NaN as null) or CBOR."""
    if compression in ("cbor", "cbor-raw"):
        return bytes(_cbor2().dumps(message))
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


def websocket_frame(frame: Frame) -> bytes:
    """``frame`` as one unmasked, unfragmented WebSocket frame (RFC 6455: server to client),
    text for ``str``, binary for ``bytes``: what a transport writes, made once per message."""
    if isinstance(frame, str):
        data, opcode = frame.encode("utf-8"), 0x81
    else:
        data, opcode = frame, 0x82
    size = len(data)
    if size < 126:
        head = struct.pack("!BB", opcode, size)
    elif size <= 0xFFFF:
        head = struct.pack("!BBH", opcode, 126, size)
    else:
        head = struct.pack("!BBQ", opcode, 127, size)
    return head + data
