"""A slow, obviously correct reference for ROS 1 messages, independent of the code under test.

Random valid messages of any type (driven by the type store's field list), and a field-by-field
conversion to rosbags' message objects, whose ROS 1 serializer gives the wire bytes.
"""

from __future__ import annotations

import math
import random
import struct
from typing import Any

import numpy as np

from rosweb.messages import Field, TypeStore

# -- ROS 1 primitives, independent of the code under test ----------------------------------------

#: struct format of each ROS 1 integer type (byte = int8 and char = uint8 in ROS 1).
INT_FORMATS = {
    "int8": "b", "byte": "b", "uint8": "B", "char": "B", "int16": "h", "uint16": "H",
    "int32": "i", "uint32": "I", "int64": "q", "uint64": "Q",
}  # fmt: skip


def int_range(kind: str) -> tuple[int, int]:
    code = INT_FORMATS[kind]
    bits = 8 * struct.calcsize(code)
    if code.islower():
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


#: numpy dtype rosbags uses for arrays of each numeric primitive.
NUMPY_DTYPES: dict[str, Any] = {
    "bool": np.bool_, "int8": np.int8, "byte": np.int8, "uint8": np.uint8, "char": np.uint8,
    "int16": np.int16, "uint16": np.uint16, "int32": np.int32, "uint32": np.uint32,
    "int64": np.int64, "uint64": np.uint64, "float32": np.float32, "float64": np.float64,
}  # fmt: skip
BYTES_TYPES = ("uint8", "char")

#: ROS 1 wire types of (secs, nsecs). rosbags models both with ROS 2's builtin_interfaces types
#: (int32 sec, uint32 nanosec): the same 8 bytes on the wire, so values are recast bit for bit.
TIME_FORMATS = {"time": ("I", "I"), "duration": ("i", "i")}
ROSBAGS_TIME_FORMATS = ("i", "I")
ROSBAGS_TIME_CLASSES = {
    "time": "builtin_interfaces/msg/Time",
    "duration": "builtin_interfaces/msg/Duration",
}
PLACEHOLDER = "structure_needs_at_least_one_member"

TEXT_PIECES = [
    "a", "base_link", "héllo", "日本語", "🤖", 'quote " and \\ backslash', "line\nbreak", "\x00",
]  # fmt: skip


# -- random valid values -------------------------------------------------------------------------


def random_int(kind: str, rng: random.Random) -> int:
    low, high = int_range(kind)
    return rng.choice((low, high, 0, rng.randint(low, high), rng.randint(low, high)))


def random_float(kind: str, rng: random.Random) -> float:
    """A finite float exactly representable as ``kind`` (struct pack/unpack round trip)."""
    fmt = "<f" if kind == "float32" else "<d"
    while True:
        if rng.random() < 0.5:
            (value,) = struct.unpack(fmt, struct.pack(fmt, rng.uniform(-1000.0, 1000.0)))
        else:  # any bit pattern: subnormals, huge and tiny magnitudes, -0.0
            (value,) = struct.unpack(fmt, rng.randbytes(struct.calcsize(fmt)))
        if math.isfinite(value):
            return float(value)


def random_scalar(store: TypeStore, kind: str, rng: random.Random) -> Any:
    if kind in INT_FORMATS:
        return random_int(kind, rng)
    if kind in ("float32", "float64"):
        return random_float(kind, rng)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "string":
        return "".join(rng.choice(TEXT_PIECES) for _ in range(rng.randint(0, 3)))
    if kind in TIME_FORMATS:  # canonical, as rospy and rosweb make them: 0 <= nsecs < 1e9
        wire = "uint32" if kind == "time" else "int32"
        return {"secs": random_int(wire, rng), "nsecs": rng.randrange(1_000_000_000)}
    return random_message(store, kind, rng)


def random_message(store: TypeStore, type_name: str, rng: random.Random) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for f in store.fields(type_name):
        if not f.is_array:
            result[f.name] = random_scalar(store, f.type, rng)
            continue
        length = f.array_length or rng.randint(0, 3)
        if f.type in BYTES_TYPES:
            result[f.name] = rng.randbytes(length)
        else:
            result[f.name] = [random_scalar(store, f.type, rng) for _ in range(length)]
    return result


# -- the reference: rosweb dict <-> rosbags message object, field by field -----------------------


def internal_name(type_name: str) -> str:
    package, name = type_name.split("/")
    return f"{package}/msg/{name}"


def recast(value: int, src: str, dst: str) -> int:
    (result,) = struct.unpack("<" + dst, struct.pack("<" + src, value))
    return int(result)


def to_rosbags(store: TypeStore, type_name: str, msg: dict[str, Any]) -> Any:
    internal = internal_name(type_name)
    kwargs = {f.name: to_rosbags_field(store, f, msg[f.name]) for f in store.fields(type_name)}
    if any(name == PLACEHOLDER for name, _ in store._ts.fielddefs[internal][1]):
        kwargs[PLACEHOLDER] = 0
    return store._ts.types[internal](**kwargs)


def to_rosbags_field(store: TypeStore, field: Field, value: Any) -> Any:
    if field.is_array and field.type in NUMPY_DTYPES:
        return np.array(list(value), dtype=NUMPY_DTYPES[field.type])
    if field.is_array:
        return [to_rosbags_scalar(store, field.type, item) for item in value]
    return to_rosbags_scalar(store, field.type, value)


def to_rosbags_scalar(store: TypeStore, kind: str, value: Any) -> Any:
    if kind in TIME_FORMATS:
        (secs_fmt, nsecs_fmt), (sec_fmt, nanosec_fmt) = TIME_FORMATS[kind], ROSBAGS_TIME_FORMATS
        return store._ts.types[ROSBAGS_TIME_CLASSES[kind]](
            sec=recast(value["secs"], secs_fmt, sec_fmt),
            nanosec=recast(value["nsecs"], nsecs_fmt, nanosec_fmt),
        )
    if kind in NUMPY_DTYPES or kind == "string":
        return value
    return to_rosbags(store, kind, value)


def from_rosbags(store: TypeStore, type_name: str, obj: Any) -> dict[str, Any]:
    return {
        f.name: from_rosbags_field(store, f, getattr(obj, f.name)) for f in store.fields(type_name)
    }


def from_rosbags_field(store: TypeStore, field: Field, value: Any) -> Any:
    if field.is_array and field.type in NUMPY_DTYPES:
        assert isinstance(value, np.ndarray)
        assert value.dtype == NUMPY_DTYPES[field.type], field.name
        return value.tobytes() if field.type in BYTES_TYPES else value.tolist()
    if field.is_array:
        return [from_rosbags_scalar(store, field.type, item) for item in value]
    return from_rosbags_scalar(store, field.type, value)


def from_rosbags_scalar(store: TypeStore, kind: str, value: Any) -> Any:
    if kind in TIME_FORMATS:
        (secs_fmt, nsecs_fmt), (sec_fmt, nanosec_fmt) = TIME_FORMATS[kind], ROSBAGS_TIME_FORMATS
        return {
            "secs": recast(value.sec, sec_fmt, secs_fmt),
            "nsecs": recast(value.nanosec, nanosec_fmt, nsecs_fmt),
        }
    if kind in NUMPY_DTYPES or kind == "string":
        return value
    return from_rosbags(store, kind, value)


def ros1_serialize(store: TypeStore, type_name: str, msg: dict[str, Any]) -> bytes:
    raw = store._ts.serialize_ros1(to_rosbags(store, type_name, msg), internal_name(type_name))
    return bytes(raw)


def ros1_deserialize(store: TypeStore, type_name: str, raw: bytes) -> dict[str, Any]:
    obj = store._ts.deserialize_ros1(raw, internal_name(type_name))
    return from_rosbags(store, type_name, obj)
