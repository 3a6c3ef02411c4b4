"""ROS 2 parameters on this side: values as ``rcl_interfaces/msg/ParameterValue``, a node's own
parameter store, and the six parameter services of rcl_interfaces that ``ros2 param`` (and
rosweb on another node) call: ``~/list_parameters``, ``~/get_parameters``, ``~/set_parameters``,
``~/set_parameters_atomically``, ``~/describe_parameters``, ``~/get_parameter_types``.

Mapping of values: ``bool`` BOOL, ``int`` INTEGER, ``float`` DOUBLE, ``str`` STRING, ``bytes``
BYTE_ARRAY, lists of one of those kinds the matching array; an int set on a DOUBLE parameter is
a double (JSON does not tell ``1`` from ``1.0``). Setting NOT_SET undeclares a parameter.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rosweb.errors import ValidationError
from rosweb.messages import Message

__all__ = ["Descriptor", "ParamStore", "from_value", "serve_parameters", "to_value"]

NOT_SET, BOOL, INTEGER, DOUBLE, STRING = 0, 1, 2, 3, 4
BYTE_ARRAY, BOOL_ARRAY, INTEGER_ARRAY, DOUBLE_ARRAY, STRING_ARRAY = 5, 6, 7, 8, 9
_FIELDS = {
    BOOL: "bool_value", INTEGER: "integer_value", DOUBLE: "double_value", STRING: "string_value",
    BYTE_ARRAY: "byte_array_value", BOOL_ARRAY: "bool_array_value",
    INTEGER_ARRAY: "integer_array_value", DOUBLE_ARRAY: "double_array_value",
    STRING_ARRAY: "string_array_value",
}  # fmt: skip
_EMPTY: Message = {
    "type": NOT_SET, "bool_value": False, "integer_value": 0, "double_value": 0.0,
    "string_value": "", "byte_array_value": b"", "bool_array_value": [],
    "integer_array_value": [], "double_array_value": [], "string_array_value": [],
}  # fmt: skip


def _kind(value: Any) -> int:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return DOUBLE
    if isinstance(value, str):
        return STRING
    if isinstance(value, bytes | bytearray):
        return BYTE_ARRAY
    if isinstance(value, list | tuple) and value:
        kinds = {_kind(v) for v in value}
        if kinds == {INTEGER, DOUBLE}:
            kinds = {DOUBLE}
        if len(kinds) == 1 and next(iter(kinds)) in (BOOL, INTEGER, DOUBLE, STRING):
            return {BOOL: BOOL_ARRAY, INTEGER: INTEGER_ARRAY, DOUBLE: DOUBLE_ARRAY,
                    STRING: STRING_ARRAY}[next(iter(kinds))]  # fmt: skip
    raise ValidationError(
        f"a ROS 2 parameter is a bool, integer, double, string, bytes or a list of one of "
        f"those (not empty), got {value!r:.60}"
    )


def to_value(value: Any, existing: int = NOT_SET) -> Message:
    """A ``ParameterValue`` for a JSON value (``existing``: the parameter's type now)."""
    if value is None:
        return dict(_EMPTY)
    kind = _kind(value) if not (isinstance(value, list) and not value) else existing
    if kind == INTEGER and existing == DOUBLE:
        kind, value = DOUBLE, float(value)
    elif kind == INTEGER_ARRAY and existing == DOUBLE_ARRAY:
        kind, value = DOUBLE_ARRAY, [float(v) for v in value]
    if kind == NOT_SET:
        raise ValidationError("an empty list needs an existing array parameter to take its type")
    if kind == DOUBLE_ARRAY:
        value = [float(v) for v in value]
    result = dict(_EMPTY)
    result["type"] = kind
    result[_FIELDS[kind]] = bytes(value) if kind == BYTE_ARRAY else value
    return result


def from_value(value: Message) -> Any:
    """The JSON value of a ``ParameterValue`` (None for NOT_SET)."""
    field = _FIELDS.get(value.get("type", NOT_SET))
    return None if field is None else value[field]


@dataclass(frozen=True)
class Descriptor:
    """What rosweb declares about one parameter: range, step, description, read-only."""

    description: str = ""
    min: float | None = None
    max: float | None = None
    step: float = 0.0
    read_only: bool = False


Validator = Callable[[Any], Any]


class ParamStore:
    """A node's parameters (ROS 2 names, ``a.b.c``), with descriptors and validators."""

    def __init__(self, *, allow_undeclared: bool = True) -> None:
        self.allow_undeclared = allow_undeclared
        self._values: dict[str, Message] = {}
        self._descriptors: dict[str, Descriptor] = {}
        self._validators: dict[str, Validator] = {}
        self._lock = threading.Lock()

    def declare(
        self, name: str, value: Any, descriptor: Descriptor | None = None,
        validator: Validator | None = None,
    ) -> None:  # fmt: skip
        with self._lock:
            self._values[name] = to_value(value)
            self._descriptors[name] = descriptor or Descriptor()
            if validator is not None:
                self._validators[name] = validator

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._values)

    def get(self, name: str) -> Any:
        with self._lock:
            value = self._values.get(name)
        return None if value is None else from_value(value)

    def type_of(self, name: str) -> int:
        with self._lock:
            value = self._values.get(name)
        return NOT_SET if value is None else int(value["type"])

    def value(self, name: str) -> Message:
        with self._lock:
            return dict(self._values.get(name, _EMPTY))

    def set(self, name: str, value: Message) -> tuple[bool, str]:
        """Set one parameter from a ``ParameterValue``: (successful, reason), as ROS 2 says it."""
        with self._lock:
            known = name in self._values
            descriptor = self._descriptors.get(name, Descriptor())
            validator = self._validators.get(name)
        if not known and not self.allow_undeclared:
            return False, f"parameter {name!r} is not declared"
        if descriptor.read_only:
            return False, f"parameter {name!r} is read-only"
        if value["type"] == NOT_SET:
            if not known:
                return False, f"parameter {name!r} is not set"
            with self._lock:
                self._values.pop(name, None)
                self._descriptors.pop(name, None)
                self._validators.pop(name, None)
            return True, ""
        plain = from_value(value)
        if validator is not None:
            try:
                plain = validator(plain)
            except (TypeError, ValueError) as err:
                return False, str(err)
        with self._lock:
            self._values[name] = to_value(plain, self.type_of_locked(name))
        return True, ""

    def type_of_locked(self, name: str) -> int:
        value = self._values.get(name)
        return NOT_SET if value is None else int(value["type"])

    def describe(self, name: str) -> Message:
        with self._lock:
            descriptor = self._descriptors.get(name, Descriptor())
            kind = self.type_of_locked(name)
        float_range, int_range = [], []
        if descriptor.min is not None and descriptor.max is not None:
            if kind == INTEGER:
                int_range = [{"from_value": int(descriptor.min), "to_value": int(descriptor.max),
                              "step": int(descriptor.step)}]  # fmt: skip
            else:
                low, high = float(descriptor.min), float(descriptor.max)
                float_range = [{"from_value": low, "to_value": high, "step": descriptor.step}]
        return {
            "name": name, "type": kind, "description": descriptor.description,
            "additional_constraints": "", "read_only": descriptor.read_only,
            "dynamic_typing": self.allow_undeclared,
            "floating_point_range": float_range, "integer_range": int_range,
        }  # fmt: skip


def _list(store: ParamStore, request: Message) -> Message:
    prefixes = [p.rstrip(".") for p in request["prefixes"]]
    depth = request["depth"]
    names = []
    for name in store.names():
        if prefixes and not any(name == p or name.startswith(p + ".") for p in prefixes):
            continue
        if depth:
            base = next((p for p in prefixes if name.startswith(p + ".")), "")
            relative = name[len(base) + 1 :] if base else name
            if relative.count(".") >= depth:
                continue
        names.append(name)
    found = sorted({n.rpartition(".")[0] for n in names if "." in n})
    return {"result": {"names": names, "prefixes": found}}


def _set_all(store: ParamStore, request: Message) -> list[Message]:
    results = []
    for parameter in request["parameters"]:
        ok, reason = store.set(parameter["name"], parameter["value"])
        results.append({"successful": ok, "reason": reason})
    return results


def serve_parameters(
    provide: Callable[[str, str, Callable[[Message], Message]], Any], node: str, store: ParamStore
) -> list[Any]:
    """Provide the parameter services of ``node`` (its fully qualified name) for ``store``;
    returns the handles (close them to stop)."""
    handlers: dict[str, tuple[str, Callable[[Message], Message]]] = {
        "list_parameters": ("rcl_interfaces/srv/ListParameters", lambda r: _list(store, r)),
        "get_parameters": (
            "rcl_interfaces/srv/GetParameters",
            lambda r: {"values": [store.value(n) for n in r["names"]]},
        ),
        "set_parameters": (
            "rcl_interfaces/srv/SetParameters",
            lambda r: {"results": _set_all(store, r)},
        ),
        "set_parameters_atomically": (
            "rcl_interfaces/srv/SetParametersAtomically",
            lambda r: {"result": _atomic(store, r)},
        ),
        "describe_parameters": (
            "rcl_interfaces/srv/DescribeParameters",
            lambda r: {"descriptors": [store.describe(n) for n in r["names"]]},
        ),
        "get_parameter_types": (
            "rcl_interfaces/srv/GetParameterTypes",
            lambda r: {"types": bytes(store.type_of(n) for n in r["names"])},
        ),
    }
    base = node.rstrip("/")
    return [provide(f"{base}/{name}", srv, fn) for name, (srv, fn) in handlers.items()]


def _atomic(store: ParamStore, request: Message) -> Message:
    results = _set_all(store, request)  # not atomic across failures: the first failure is told
    failed = [r for r in results if not r["successful"]]
    return failed[0] if failed else {"successful": True, "reason": ""}
