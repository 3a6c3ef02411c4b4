"""Introspection of message and service types, generated from the type store's data.

:func:`describe` is the document behind ``GET /api/types/<type>``; :func:`typedefs` is rosapi's
``TypeDef`` list (``message_details``), which rosbridge clients use to build forms.
"""

from __future__ import annotations

from typing import Any

from rosweb.messages.convert import default, default_value, to_jsonable
from rosweb.messages.store import Field, TypeStore

__all__ = ["describe", "typedefs"]


def _field_doc(f: Field) -> dict[str, Any]:
    return {
        "name": f.name,
        "type": f.type,
        "type_text": f.type_text,
        "array": f.is_array,
        "array_length": f.array_length or None if f.is_array else None,
        "builtin": f.is_builtin,
    }


def _message_doc(store: TypeStore, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"type_hash": store.type_hash(name)} if store.ros2 else {}
    return {
        **doc,
        "type": name,
        "md5sum": store.md5sum(name),
        "fields": [_field_doc(f) for f in store.fields(name)],
        "constants": [
            {"name": c.name, "type": c.type, "value": c.value} for c in store.constants(name)
        ],
    }


def _with_dependencies(store: TypeStore, name: str) -> dict[str, Any]:
    doc = _message_doc(store, name)
    doc["definition"] = store.definition(name)
    doc["default"] = to_jsonable(default(store, name))
    doc["dependencies"] = {dep: _message_doc(store, dep) for dep in store.dependencies(name)}
    return doc


def describe(store: TypeStore, name: str) -> dict[str, Any]:
    """Schema of a message or service type; raises UnknownTypeError."""
    if store.has_service(name):
        srv = store.service(name)
        return {
            **({"type_hash": store.type_hash(srv.name)} if store.ros2 else {}),
            "kind": "service",
            "type": srv.name,
            "md5sum": srv.md5sum,
            "request": _with_dependencies(store, srv.request),
            "response": _with_dependencies(store, srv.response),
        }
    return {"kind": "message", **_with_dependencies(store, name)}


def _example(store: TypeStore, f: Field) -> Any:
    if f.is_array:
        return []
    return to_jsonable(default_value(store, f)) if f.is_builtin else {}


def typedefs(store: TypeStore, name: str) -> list[dict[str, Any]]:
    """rosapi's TypeDef list for a message type and every type it uses."""
    result = []
    for type_name in [name, *store.dependencies(name)]:
        fields = store.fields(type_name)
        constants = store.constants(type_name)
        result.append(
            {
                "type": type_name,
                "fieldnames": [f.name for f in fields],
                "fieldtypes": [f.type for f in fields],
                "fieldarraylen": [-1 if not f.is_array else (f.array_length or 0) for f in fields],
                "examples": [_example(store, f) for f in fields],
                "constnames": [c.name for c in constants],
                "constvalues": [str(c.value) for c in constants],
            }
        )
    return result
