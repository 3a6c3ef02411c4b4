"""A robot's parameters as a mapping, as the Python client has them: ``robot.params[name]``."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any, Protocol

from rosweb.errors import NotFoundError

__all__ = ["ParamMap"]


class _Params(Protocol):
    def param_names(self) -> list[str]: ...
    def param_meta(self) -> dict[str, dict[str, Any]]: ...
    def get_param(self, name: str) -> Any: ...
    def set_param(self, name: str, value: Any) -> Any: ...
    def delete_param(self, name: str) -> None: ...


class ParamMap(MutableMapping[str, Any]):
    """``params["/robot/max_linear_speed"]`` reads, ``= 0.5`` sets (checked: a ValidationError
    names the reason), ``del`` deletes; a missing name is a ``KeyError``. Iterating gives the
    names; ``meta()`` the types, ranges and units."""

    def __init__(self, robot: _Params) -> None:
        self._robot = robot

    def __getitem__(self, name: str) -> Any:
        try:
            return self._robot.get_param(name)
        except NotFoundError as err:
            raise KeyError(name) from err

    def __setitem__(self, name: str, value: Any) -> None:
        self._robot.set_param(name, value)

    def __delitem__(self, name: str) -> None:
        try:
            self._robot.delete_param(name)
        except NotFoundError as err:
            raise KeyError(name) from err

    def __iter__(self) -> Iterator[str]:
        return iter(self._robot.param_names())

    def __len__(self) -> int:
        return len(self._robot.param_names())

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self._robot.get_param(name)
        except NotFoundError:
            return False
        return True

    def names(self) -> list[str]:
        return self._robot.param_names()

    def meta(self) -> dict[str, dict[str, Any]]:
        return self._robot.param_meta()
