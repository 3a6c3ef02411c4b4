"""Your own Python values as parameters: properties.

A :class:`Property` is a parameter name backed by your functions: a getter and (unless it is
read-only) a setter, with a type (``float``, ``int``, ``bool``, ``str``), an optional range,
step, unit, description and choices. Registered on a robot (:meth:`Robot.add_property
<rosweb.core.robot.Robot.add_property>`, ``rw.property`` in Flask), it is a parameter on every path:
listed with its meta, read and written through your functions by REST, rosapi's
``get_param``/``set_param``, the client, the CLI and your own code, checked first (type, range,
choices: a :class:`~rosweb.errors.ValidationError` naming the reason), governed by the roles and
allow/deny lists of parameters and audited like any write.

:func:`check_value` is the one check of a value against a parameter's declared meta (``type``,
``min``, ``max``, ``choices``), used for properties and for ``ROSWEB_PARAM_META`` alike. ``step``
is the controls' granularity, not a constraint.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rosweb.errors import ConfigError, RosWebError, ValidationError
from rosweb.graph import normalize_name

__all__ = ["TYPES", "Properties", "Property", "check_value"]

log = logging.getLogger(__name__)

#: the types a property (or a ``type`` in ``ROSWEB_PARAM_META``) may have, by name
TYPES: dict[str, type] = {"float": float, "int": int, "bool": bool, "str": str}

Getter = Callable[[], Any]
Setter = Callable[[Any], Any]


def _type_name(kind: type | str) -> str:
    name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    if name not in TYPES:
        raise ValueError(f"a property's type is one of {list(TYPES)}, not {name!r}")
    return name


def check_value(name: str, value: Any, meta: Mapping[str, Any]) -> Any:
    """``value`` checked against ``meta`` (``type``, ``min``, ``max``, ``choices``) and made of
    its type (an integral float for an ``int``, an int for a ``float``); ValidationError
    (field ``name``) naming the reason otherwise."""
    kind = meta.get("type")
    low, high = meta.get("min"), meta.get("max")
    if kind is None and (low is not None or high is not None):
        kind = "float"  # a range means a number
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValidationError(f"expects true or false, got {value!r}", name)
    elif kind in ("float", "int"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError(f"expects a number, got {value!r}", name)
        if not math.isfinite(value):
            raise ValidationError(f"expects a finite number, got {value!r}", name)
        if kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise ValidationError(f"expects an integer, got {value!r}", name)
            value = int(value)
        elif meta.get("type") == "float":
            value = float(value)
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValidationError(
                f"expects a value in [{'-inf' if low is None else low}, "
                f"{'inf' if high is None else high}], got {value!r}", name,
            )  # fmt: skip
    elif kind == "str" and not isinstance(value, str):
        raise ValidationError(f"expects a string, got {value!r}", name)
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise ValidationError(f"expects one of {list(choices)}, got {value!r}", name)
    return value


class Property:
    """One of your values as a parameter (made by :meth:`Properties.add`)."""

    def __init__(
        self,
        name: str,
        getter: Getter,
        setter: Setter | None = None,
        *,
        type: type | str = float,
        min: float | None = None,
        max: float | None = None,
        step: float | None = None,
        unit: str = "",
        description: str = "",
        choices: Iterable[Any] | None = None,
    ) -> None:
        self.name = normalize_name(name)
        if self.name == "/":
            raise ValueError("a property needs a name, e.g. /my_app/threshold")
        if not callable(getter):
            raise TypeError(f"property {self.name}: the getter must be callable")
        self.getter = getter
        self._setter = setter
        self.type = _type_name(type)
        if (min is not None or max is not None) and self.type not in ("float", "int"):
            raise ValueError(f"property {self.name}: min and max need type float or int")
        if min is not None and max is not None and min > max:
            raise ValueError(f"property {self.name}: min {min} is above max {max}")
        if step is not None and not step > 0:
            raise ValueError(f"property {self.name}: step must be positive")
        self.min, self.max, self.step = min, max, step
        self.unit = unit
        self.description = description
        self.choices = tuple(choices) if choices is not None else None
        self._when_writable: list[Callable[[Property], None]] = []

    def setter(self, function: Setter) -> Property:
        """Decorator: ``function(value)`` stores a new value (``@threshold.setter``)."""
        self._setter = function
        waiting, self._when_writable = self._when_writable, []
        for call in waiting:
            call(self)
        return self

    @property
    def writable(self) -> bool:
        return self._setter is not None

    def meta(self) -> dict[str, Any]:
        """What ``GET /api/params`` says of it: type, range, step, unit, description, choices,
        ``property: true`` and ``writable``."""
        meta: dict[str, Any] = {"type": self.type}
        for key in ("min", "max", "step"):
            if getattr(self, key) is not None:
                meta[key] = getattr(self, key)
        if self.unit:
            meta["unit"] = self.unit
        if self.description:
            meta["description"] = self.description
        if self.choices is not None:
            meta["choices"] = list(self.choices)
        meta["property"] = True
        meta["writable"] = self.writable
        return meta

    def check(self, value: Any) -> Any:
        """The value as it will be stored (of the property's type); ValidationError otherwise."""
        if not self.writable:
            raise ValidationError("is read-only (the property has no setter)", self.name)
        return check_value(self.name, value, self.meta())

    def read(self) -> Any:
        """Your getter's value, of the property's type."""
        try:
            value = self.getter()
            return TYPES[self.type](value)
        except Exception as err:
            log.exception("the getter of property %s failed", self.name)
            raise RosWebError(f"the getter of property {self.name} failed: {err}") from err

    def write(self, value: Any) -> None:
        """Check ``value``, then give it to your setter. A setter raising ValueError or
        TypeError refuses the value (ValidationError with its message)."""
        checked = self.check(value)
        assert self._setter is not None  # check() refused a read-only property
        try:
            self._setter(checked)
        except (ValueError, TypeError) as err:
            raise ValidationError(str(err) or "value refused", self.name) from err
        except Exception as err:
            log.exception("the setter of property %s failed", self.name)
            raise RosWebError(f"the setter of property {self.name} failed: {err}") from err

    def __repr__(self) -> str:
        return f"<Property {self.name} ({self.type})>"


class Properties:
    """The properties of one robot, by name. Thread-safe.

    ``initial`` are values to give properties when they are registered (the ``[params]`` table
    of the config, so that a restart restores them)."""

    def __init__(self, initial: Mapping[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, Property] = {}
        self._initial = dict(initial or {})
        self._listeners: list[Callable[[Property], None]] = []

    def add(self, prop: Property) -> Property:
        """Register ``prop`` (ValueError for a name taken by another property or nested in
        one); a value waiting for it in ``initial`` is written at once."""
        name = prop.name
        with self._lock:
            for other in self._items:
                if other == name:
                    raise ValueError(f"property {name} is already registered")
                if other.startswith(name + "/") or name.startswith(other + "/"):
                    raise ValueError(f"property {name} and property {other} would nest")
            self._items[name] = prop
            listeners = list(self._listeners)
            initial = self._initial.pop(name, _MISSING)
        if initial is not _MISSING:
            if prop.writable:
                self._initialise(prop, initial)
            else:  # the decorator form: its setter comes next
                prop._when_writable.append(lambda p: self._initialise(p, initial))
        for listener in listeners:
            listener(prop)
        return prop

    def _initialise(self, prop: Property, value: Any) -> None:
        try:
            prop.write(value)
        except RosWebError as err:
            with self._lock:
                self._items.pop(prop.name, None)
            raise ConfigError(f"ROSWEB_PARAMS: {err}") from err

    def on_add(self, listener: Callable[[Property], None]) -> None:
        """Call ``listener(prop)`` for each property registered from now on."""
        with self._lock:
            self._listeners.append(listener)

    def expect(self, values: Mapping[str, Any]) -> None:
        """More initial values, for properties not registered yet."""
        with self._lock:
            self._initial.update(values)

    def get(self, name: str) -> Property | None:
        with self._lock:
            return self._items.get(normalize_name(name))

    def under(self, namespace: str) -> list[Property]:
        """The properties inside ``namespace`` (every one for ``/``)."""
        prefix = normalize_name(namespace).rstrip("/") + "/"
        with self._lock:
            return [p for n, p in self._items.items() if n.startswith(prefix)]

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._items)

    def meta(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            items = list(self._items.values())
        return {prop.name: prop.meta() for prop in items}

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


_MISSING = object()
