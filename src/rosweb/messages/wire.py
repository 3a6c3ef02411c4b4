"""Messages in the ROS 1 wire format (little-endian, length-prefixed strings and arrays).

rosbridge's ``cbor-raw`` compression sends this serialization instead of a JSON form; it is what
rospy would put on a TCPROS connection for the same message.
"""

from __future__ import annotations

import struct
from typing import Any

from rosweb.messages.convert import Message
from rosweb.messages.store import TypeStore

__all__ = ["to_ros1"]

_FORMATS = {
    "bool": "?", "int8": "b", "byte": "b", "uint8": "B", "char": "B", "int16": "h",
    "uint16": "H", "int32": "i", "uint32": "I", "int64": "q", "uint64": "Q",
    "float32": "f", "float64": "d",
}  # fmt: skip
_COUNT = struct.Struct("<I")


def _scalar(store: TypeStore, kind: str, value: Any, out: bytearray) -> None:
    fmt = _FORMATS.get(kind)
    if fmt is not None:
        out += struct.pack("<" + fmt, value)
    elif kind == "string":
        data = value.encode()
        out += _COUNT.pack(len(data))
        out += data
    elif kind in ("time", "duration"):
        out += struct.pack("<II" if kind == "time" else "<ii", value["secs"], value["nsecs"])
    else:
        _message(store, kind, value, out)


def _message(store: TypeStore, type_name: str, msg: Message, out: bytearray) -> None:
    for field in store.fields(type_name):
        value = msg[field.name]
        if not field.is_array:
            _scalar(store, field.type, value, out)
            continue
        if not field.array_length:
            out += _COUNT.pack(len(value))
        fmt = _FORMATS.get(field.type)
        if field.type in ("uint8", "char"):
            out += value
        elif fmt is not None:
            out += struct.pack(f"<{len(value)}{fmt}", *value)
        else:
            for item in value:
                _scalar(store, field.type, item, out)


def to_ros1(store: TypeStore, type_name: str, msg: Message) -> bytes:
    """The ROS 1 serialization of a (validated) message."""
    out = bytearray()
    _message(store, type_name, msg, out)
    return bytes(out)
