"""rospy message objects <-> rosweb's message dicts, driven by the type store's fields.

The walk follows :meth:`TypeStore.fields`, the same data that validates JSON, so a type reads the
same on ros1 as on sim. rospy classes are only containers: ``time``/``duration`` are rospy.Time /
rospy.Duration (``secs``, ``nsecs``), ``uint8[]``/``char[]`` are ``bytes``.
"""

from __future__ import annotations

import importlib
from typing import Any

from rosweb.errors import UnknownTypeError
from rosweb.messages import Message, TypeStore

__all__ = ["message_class", "service_class", "to_native", "to_rospy"]

_BYTES = ("uint8", "char")
_classes: dict[str, Any] = {}


def _load(type_name: str, kind: str) -> Any:
    key = f"{kind}:{type_name}"
    cls = _classes.get(key)
    if cls is None:
        package, _, name = type_name.partition("/")
        try:
            cls = getattr(importlib.import_module(f"{package}.{kind}"), name)
        except (ImportError, AttributeError, ValueError):
            raise UnknownTypeError(type_name) from None
        _classes[key] = cls
    return cls


def message_class(type_name: str) -> Any:
    """The rospy class of a message type, imported from ``<pkg>.msg`` (no rospack needed);
    a service's ``<Name>Request`` / ``<Name>Response`` come from ``<pkg>.srv``."""
    try:
        return _load(type_name, "msg")
    except UnknownTypeError:
        if type_name.endswith(("Request", "Response")):
            return _load(type_name, "srv")
        raise


def service_class(type_name: str) -> Any:
    """The rospy class of a service type, imported from ``<pkg>.srv``."""
    return _load(type_name, "srv")


def _time_dict(value: Any) -> dict[str, int]:
    return {"secs": int(value.secs), "nsecs": int(value.nsecs)}


def to_native(store: TypeStore, type_name: str, obj: Any) -> Message:
    """A rospy message as a rosweb message dict."""
    result: Message = {}
    for field in store.fields(type_name):
        value = getattr(obj, field.name)
        kind = field.type
        if field.is_array:
            if kind in _BYTES:
                result[field.name] = bytes(value)
            elif kind in ("time", "duration"):
                result[field.name] = [_time_dict(v) for v in value]
            elif field.is_builtin:
                result[field.name] = list(value)
            else:
                result[field.name] = [to_native(store, kind, v) for v in value]
        elif kind in ("time", "duration"):
            result[field.name] = _time_dict(value)
        elif field.is_builtin:
            result[field.name] = value
        else:
            result[field.name] = to_native(store, kind, value)
    return result


def to_rospy(store: TypeStore, type_name: str, msg: Message, cls: Any = None) -> Any:
    """A rosweb message dict (validated) as an instance of its rospy class (or of ``cls``)."""
    import rospy

    def time_value(kind: str, value: dict[str, int]) -> Any:
        factory = rospy.Time if kind == "time" else rospy.Duration
        return factory(value["secs"], value["nsecs"])

    obj = (cls or message_class(type_name))()
    for field in store.fields(type_name):
        value = msg[field.name]
        kind = field.type
        if field.is_array:
            if kind in _BYTES:
                converted: Any = bytes(value)
            elif kind in ("time", "duration"):
                converted = [time_value(kind, v) for v in value]
            elif field.is_builtin:
                converted = list(value)
            else:
                converted = [to_rospy(store, kind, v) for v in value]
        elif kind in ("time", "duration"):
            converted = time_value(kind, value)
        elif field.is_builtin:
            converted = value
        else:
            converted = to_rospy(store, kind, value)
        setattr(obj, field.name, converted)
    return obj
