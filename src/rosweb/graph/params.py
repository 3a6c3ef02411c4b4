"""A parameter tree with rosparam semantics: ``/a/b`` names, namespaces read back as dicts.

Pure data structure shared by backends that keep parameters themselves (the simulated robot).
Validators registered per name check and normalise a value before it is stored, so a robot's own
parameters refuse nonsense (``max_linear_speed = "fast"``) with a :class:`ValidationError`.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from rosweb.errors import NotFoundError, ValidationError

__all__ = ["ParamTree", "join_name", "split_name"]

Validator = Callable[[Any], Any]


def split_name(name: str) -> list[str]:
    """``/robot/max_speed`` -> ``["robot", "max_speed"]``; ``/`` -> ``[]``."""
    return [part for part in name.split("/") if part]


def join_name(parts: list[str]) -> str:
    return "/" + "/".join(parts)


class ParamTree:
    """Thread-safe nested parameters."""

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        self._root: dict[str, Any] = {}
        self._validators: dict[str, Validator] = {}
        self._lock = threading.Lock()
        for name, value in (values or {}).items():
            self.set(name, value)

    def add_validator(self, name: str, validator: Validator) -> None:
        """``validator(value)`` returns the value to store or raises ValueError/TypeError."""
        self._validators[join_name(split_name(name))] = validator

    def get(self, name: str) -> Any:
        parts = split_name(name)
        with self._lock:
            node: Any = self._root
            for part in parts:
                if not isinstance(node, dict) or part not in node:
                    raise NotFoundError("param", join_name(parts))
                node = node[part]
            return copy.deepcopy(node)

    def _validated(self, parts: list[str], value: Any) -> Any:
        for end in range(len(parts)):  # a validated parameter is a leaf, never a namespace
            if join_name(parts[:end]) in self._validators:
                raise ValidationError("is a parameter, not a namespace", join_name(parts[:end]))
        validator = self._validators.get(join_name(parts))
        if validator is None:
            if isinstance(value, dict):
                return {k: self._validated([*parts, *split_name(k)], v) for k, v in value.items()}
            return value
        try:
            return validator(value)
        except (TypeError, ValueError) as err:
            raise ValidationError(str(err), join_name(parts)) from err

    def set(self, name: str, value: Any) -> None:
        parts = split_name(name)
        value = self._validated(parts, copy.deepcopy(value))
        with self._lock:
            if not parts:
                if not isinstance(value, dict):
                    raise ValidationError("the root namespace can only be set to a dict", "/")
                self._root = value
                return
            node = self._root
            for part in parts[:-1]:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node[parts[-1]] = value

    def delete(self, name: str) -> None:
        parts = split_name(name)
        with self._lock:
            node: Any = self._root
            for part in parts[:-1]:
                node = node.get(part) if isinstance(node, dict) else None
            if not parts or not isinstance(node, dict) or parts[-1] not in node:
                raise NotFoundError("param", join_name(parts))
            del node[parts[-1]]
            for end in range(len(parts) - 1, 0, -1):  # namespaces it leaves empty go too
                parent: Any = self._root
                for part in parts[: end - 1]:
                    parent = parent[part]
                if parent[parts[end - 1]]:
                    break
                del parent[parts[end - 1]]

    def names(self) -> list[str]:
        """Every leaf parameter name, sorted (as ``rosparam list``)."""
        result: list[str] = []

        def walk(node: dict[str, Any], prefix: list[str]) -> None:
            for key, value in node.items():
                if isinstance(value, dict) and value:
                    walk(value, [*prefix, key])
                else:
                    result.append(join_name([*prefix, key]))

        with self._lock:
            walk(self._root, [])
        return sorted(result)
