"""The one place where messages become JSON and JSON becomes messages.

A message inside rosweb is a plain ``dict`` in rosbridge's JSON form, except that ``uint8[]`` and
``char[]`` fields hold ``bytes`` (so a camera frame is never base64-encoded until it goes on a
wire). Times and durations are ``{"secs": int, "nsecs": int}``. Every field is present.

- :func:`from_json` validates a JSON value against a type, fills missing fields with defaults,
  decodes base64 (a list of ints is accepted too) and raises :class:`ValidationError` naming the
  field path and the expected type.
- :func:`to_json` turns a message into JSON text: ``bytes`` as base64, non-finite floats as
  ``null`` (JSON has no NaN/inf; rosbridge does the same).
- :func:`default` builds the default message of a type.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import secrets
from collections.abc import Callable
from typing import Any

from rosweb.errors import ValidationError
from rosweb.messages.store import Field, TypeStore

__all__ = ["Message", "default", "default_value", "from_json", "to_json", "to_jsonable"]

Message = dict[str, Any]

_INT_RANGES: dict[str, tuple[int, int]] = {
    "int8": (-(2**7), 2**7 - 1),
    "byte": (-(2**7), 2**7 - 1),
    "uint8": (0, 2**8 - 1),
    "char": (0, 2**8 - 1),
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}
_FLOAT_MAX = {"float32": 3.4028234663852886e38, "float64": math.inf}
_BYTES_TYPES = ("uint8", "char")


def _path(parent: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{parent}[{name}]"
    return f"{parent}.{name}" if parent else name


def _describe(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, str | int | float | bool | None) else None
    return text if text is not None and len(text) <= 40 else type(value).__name__


def _fail(expected: str, value: Any, path: str) -> ValidationError:
    return ValidationError(f"expects {expected}, got {_describe(value)}", path or None)


# -- scalar checks --------------------------------------------------------------------------------


def _check_int(kind: str, value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(kind, value, path)
    if isinstance(value, float) and not value.is_integer():
        raise _fail(kind, value, path)
    number = int(value)
    low, high = _INT_RANGES[kind]
    if not low <= number <= high:
        raise ValidationError(f"expects {kind} in [{low}, {high}], got {number}", path or None)
    return number


def _check_float(kind: str, value: Any, path: str) -> float:
    if value is None:  # the JSON form of NaN/inf (see to_json)
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(kind, value, path)
    try:
        number = float(value)
    except OverflowError:  # a 400-digit integer: no float holds it
        raise ValidationError(f"expects {kind}, got a number out of range", path or None) from None
    if math.isfinite(number) and abs(number) > _FLOAT_MAX[kind]:
        raise ValidationError(f"expects {kind}, got {number} (out of range)", path or None)
    return number


def _check_bool(kind: str, value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(kind, value, path)
    return value


def _check_string(kind: str, value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _fail(kind, value, path)
    return value


def _check_time(kind: str, value: Any, path: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise _fail(f"{kind} {{secs, nsecs}}", value, path)
    unknown = set(value) - {"secs", "nsecs"}
    if unknown:
        key = sorted(unknown)[0]
        raise ValidationError(f"{kind} has no field {key!r}", _path(path, key))
    secs = _check_int(
        "uint32" if kind == "time" else "int32", value.get("secs", 0), _path(path, "secs")
    )
    nsecs = _check_int(
        "uint32" if kind == "time" else "int32", value.get("nsecs", 0), _path(path, "nsecs")
    )
    # canonical form, as rospy makes it: 0 <= nsecs < 1e9
    carry, nsecs = divmod(nsecs, 1_000_000_000)
    secs = _check_int("uint32" if kind == "time" else "int32", secs + carry, _path(path, "secs"))
    return {"secs": secs, "nsecs": nsecs}


_SCALARS: dict[str, Callable[[str, Any, str], Any]] = {
    **{k: _check_int for k in _INT_RANGES},
    "float32": _check_float,
    "float64": _check_float,
    "bool": _check_bool,
    "string": _check_string,
    "time": _check_time,
    "duration": _check_time,
}

_SCALAR_DEFAULTS: dict[str, Any] = {
    **{k: 0 for k in _INT_RANGES},
    "float32": 0.0,
    "float64": 0.0,
    "bool": False,
    "string": "",
}


def _check_bytes(field: Field, value: Any, path: str) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
    elif isinstance(value, str):
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _fail(f"{field.type_text} as base64", value, path) from None
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_int(field.type, item, _path(path, i))
        data = bytes(value)
    else:
        raise _fail(f"{field.type_text} (base64 string or list of ints)", value, path)
    if field.array_length and len(data) != field.array_length:
        raise ValidationError(f"expects {field.array_length} bytes, got {len(data)}", path or None)
    return data


# -- messages -------------------------------------------------------------------------------------


def default_value(store: TypeStore, field: Field) -> Any:
    """The default value of one field."""
    if field.is_array:
        if field.type in _BYTES_TYPES:
            return bytes(field.array_length or 0)
        return [_default_scalar(store, field.type) for _ in range(field.array_length or 0)]
    return _default_scalar(store, field.type)


def _default_scalar(store: TypeStore, type_name: str) -> Any:
    if type_name in ("time", "duration"):
        return {"secs": 0, "nsecs": 0}
    if type_name in _SCALAR_DEFAULTS:
        return _SCALAR_DEFAULTS[type_name]
    return default(store, type_name)


def default(store: TypeStore, type_name: str) -> Message:
    """The default message of a type: zeros, empty strings and arrays, fixed arrays filled."""
    return {f.name: default_value(store, f) for f in store.fields(type_name)}


def _element(store: TypeStore, type_name: str, value: Any, path: str) -> Any:
    check = _SCALARS.get(type_name)
    if check is not None:
        return check(type_name, value, path)
    return from_json(store, type_name, value, at=path)


def _value(store: TypeStore, field: Field, value: Any, path: str) -> Any:
    if not field.is_array:
        return _element(store, field.type, value, path)
    if field.type in _BYTES_TYPES:
        return _check_bytes(field, value, path)
    if not isinstance(value, list | tuple):
        raise _fail(f"{field.type_text} (a list)", value, path)
    if field.array_length and len(value) != field.array_length:
        raise ValidationError(
            f"expects {field.type_text} ({field.array_length} items), got {len(value)} items",
            path or None,
        )
    return [_element(store, field.type, item, _path(path, i)) for i, item in enumerate(value)]


def from_json(store: TypeStore, type_name: str, value: Any, *, at: str = "") -> Message:
    """Validate a JSON value (already parsed) as a message of ``type_name``.

    Missing fields get their defaults; unknown fields and wrong types raise
    :class:`ValidationError` with the dotted field path, e.g. ``linear.x``. ``at`` is the path
    of this value inside an enclosing message.
    """
    fields = store.fields(type_name)
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise _fail(f"{type_name} (an object)", value, at)
    names = {f.name for f in fields}
    for key in value:
        if key not in names:
            raise ValidationError(f"{type_name} has no field {key!r}", _path(at, key))
    result: Message = {}
    for f in fields:
        if f.name in value:
            result[f.name] = _value(store, f, value[f.name], _path(at, f.name))
        else:
            result[f.name] = default_value(store, f)
    return result


# -- to JSON --------------------------------------------------------------------------------------

#: ``bytes`` fields at least this long are base64-encoded apart and spliced into the JSON text
SPLICE_BYTES = 4096
#: what stands for one of them in :func:`json.dumps`'s output until it is spliced in: a NUL and
#: a random token no message holds (if one does, that message is encoded the plain way)
_SPLICE = "\x00rosweb-bytes-" + secrets.token_hex(16)
_SPLICE_JSON = json.dumps(_SPLICE)


def _bytes_to_base64(obj: object) -> str:
    if isinstance(obj, bytes | bytearray | memoryview):
        return base64.b64encode(obj).decode("ascii")
    raise TypeError(f"{type(obj).__name__} is not a message value")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def to_json(msg: Any) -> str:
    """JSON text of a message (or any structure holding messages): compact, UTF-8 safe.

    A long ``bytes`` field (a camera frame) is spliced in as base64 text after :func:`json.dumps`
    has made the rest, not escaped by it character by character (base64 needs no escaping): a
    640x480 rgb8 image in 2.0 ms instead of 6.1 (:data:`SPLICE_BYTES`)."""
    blobs: list[bytes | bytearray | memoryview] = []

    def bytes_field(obj: object) -> str:
        if isinstance(obj, bytes | bytearray | memoryview) and len(obj) >= SPLICE_BYTES:
            blobs.append(obj)
            return _SPLICE
        return _bytes_to_base64(obj)

    try:
        text = json.dumps(msg, default=bytes_field, allow_nan=False, separators=(",", ":"))
    except ValueError:  # a NaN or inf somewhere: the slow path replaces them with null
        return json.dumps(_finite(msg), default=_bytes_to_base64, separators=(",", ":"))
    if not blobs:
        return text
    parts = text.split(_SPLICE_JSON)
    if len(parts) != len(blobs) + 1:  # a string of the message holds the token itself
        return json.dumps(msg, default=_bytes_to_base64, separators=(",", ":"))
    out = [parts[0]]
    for blob, rest in zip(blobs, parts[1:], strict=True):
        out += ('"', base64.b64encode(blob).decode("ascii"), '"', rest)
    return "".join(out)


def to_jsonable(msg: Any) -> Any:
    """The message as plain JSON-compatible Python data (bytes as base64, NaN as None)."""
    result: Any = json.loads(to_json(msg))
    return result
