"""Messages in CDR, ROS 2's wire format (what rmw_zenoh puts in a Zenoh payload), by rosbags.

rosweb's Python form (plain dicts, ``bytes`` for ``uint8[]``) is turned into rosbags' message
objects (numpy arrays for numeric arrays) and serialized by rosbags' generated serializers, with
the 4-byte encapsulation header (little-endian CDR, as rmw_zenoh and rclcpp send it); the way
back deserializes with rosbags and turns the objects into dicts. A :class:`CdrCodec` keeps no
state but the store it reads its definitions from.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rosbags.typesys.base import Nodetype  # type: ignore[attr-defined]

from rosweb.errors import MessageError
from rosweb.messages.convert import Message
from rosweb.messages.store import TypeStore

__all__ = ["CdrCodec"]

_PLACEHOLDER = "structure_needs_at_least_one_member"
_DTYPES: dict[str, Any] = {
    "bool": np.bool_, "byte": np.uint8, "char": np.uint8, "int8": np.int8, "uint8": np.uint8,
    "int16": np.int16, "uint16": np.uint16, "int32": np.int32, "uint32": np.uint32,
    "int64": np.int64, "uint64": np.uint64, "float32": np.float32, "float64": np.float64,
}  # fmt: skip
_BINARY = ("uint8", "byte", "char")
_HEADER = b"\x00\x01\x00\x00"


class CdrCodec:
    """CDR for the types of one (ROS 2) :class:`TypeStore`."""

    def __init__(self, store: TypeStore) -> None:
        if not store.ros2:
            raise MessageError("CDR is ROS 2's wire format: the store holds ROS 1 types")
        self.store = store
        self._ts = store.rosbags

    # -- encode ---------------------------------------------------------------------------------

    def encode(self, type_name: str, msg: Message) -> bytes:
        """The CDR bytes (with encapsulation header) of a validated message."""
        name = self.store.public(type_name)
        try:
            obj = self._object(name, msg)
            return bytes(self._ts.serialize_cdr(obj, name, little_endian=True))
        except MessageError:
            raise
        except Exception as err:  # rosbags/numpy: overflow, wrong shapes
            raise MessageError(f"cannot serialize {name}: {err}") from err

    def _object(self, name: str, msg: Message) -> Any:
        cls = self._ts.types[name]
        values: dict[str, Any] = {}
        for field, desc in self.store.fielddefs(name)[1]:
            if field == _PLACEHOLDER:
                values[field] = 0
            else:
                values[field] = self._value(desc, msg[field])
        return cls(**values)

    def _value(self, desc: tuple[Any, Any], value: Any) -> Any:
        kind, arg = desc
        if kind == Nodetype.BASE:
            return value
        if kind == Nodetype.NAME:
            return self._object(arg, value)
        (sub_kind, sub_arg), _length = arg
        if sub_kind == Nodetype.BASE and sub_arg[0] in _DTYPES:
            dtype = _DTYPES[sub_arg[0]]
            if isinstance(value, bytes | bytearray | memoryview):
                return np.frombuffer(value, dtype=dtype)
            return np.asarray(value, dtype=dtype)
        if sub_kind == Nodetype.NAME:
            return [self._object(sub_arg, item) for item in value]
        return list(value)  # strings

    # -- decode ---------------------------------------------------------------------------------

    def decode(self, type_name: str, data: bytes | memoryview) -> Message:
        """A message from CDR bytes; raises MessageError on malformed data."""
        name = self.store.public(type_name)
        raw = bytes(data)
        if raw == _HEADER and self._empty(name):  # an empty structure sent without its member
            raw += b"\x00"
        try:
            obj = self._ts.deserialize_cdr(raw, name)
            return self._dict(name, obj)
        except Exception as err:  # malformed payloads raise many kinds of errors in rosbags
            raise MessageError(f"cannot deserialize {name} ({len(raw)} bytes): {err}") from err

    def _empty(self, name: str) -> bool:
        fields = self.store.fielddefs(name)[1]
        return not fields or [f for f, _ in fields] == [_PLACEHOLDER]

    def _dict(self, name: str, obj: Any) -> Message:
        result: Message = {}
        for field, desc in self.store.fielddefs(name)[1]:
            if field != _PLACEHOLDER:
                result[field] = self._plain(desc, getattr(obj, field))
        return result

    def _plain(self, desc: tuple[Any, Any], value: Any) -> Any:
        kind, arg = desc
        if kind == Nodetype.BASE:
            if isinstance(value, np.generic):
                return value.item()
            return value
        if kind == Nodetype.NAME:
            return self._dict(arg, value)
        (sub_kind, sub_arg), _length = arg
        if sub_kind == Nodetype.NAME:
            return [self._dict(sub_arg, item) for item in value]
        if isinstance(value, np.ndarray):
            if sub_arg[0] in _BINARY:
                return value.tobytes()
            return value.tolist()
        return list(value)
