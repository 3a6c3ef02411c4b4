"""The parameter tree behaves as rosparam does."""

from __future__ import annotations

import pytest

from rosweb.errors import NotFoundError, ValidationError
from rosweb.graph.params import ParamTree


def test_namespaces_read_back_as_dicts() -> None:
    tree = ParamTree({"/robot/max_speed": 1.0, "/robot/name": "rover"})
    assert tree.get("/robot") == {"max_speed": 1.0, "name": "rover"}
    assert tree.get("robot/max_speed") == 1.0
    assert tree.names() == ["/robot/max_speed", "/robot/name"]


def test_setting_a_dict_sets_a_namespace() -> None:
    tree = ParamTree()
    tree.set("/pid", {"p": 1, "i": {"max": 2}})
    assert tree.get("/pid/i/max") == 2
    assert tree.names() == ["/pid/i/max", "/pid/p"]


def test_values_are_copies() -> None:
    tree = ParamTree({"/list": [1, 2]})
    tree.get("/list").append(3)
    assert tree.get("/list") == [1, 2]


def test_missing_and_deleted_params_are_not_found() -> None:
    tree = ParamTree({"/a/b": 1})
    with pytest.raises(NotFoundError):
        tree.get("/a/c")
    tree.delete("/a/b")
    with pytest.raises(NotFoundError):
        tree.delete("/a/b")


def test_validators_refuse_bad_values_with_the_param_name() -> None:
    tree = ParamTree()

    def positive(value: object) -> float:
        if not isinstance(value, int | float) or value <= 0:
            raise ValueError("expects a positive number")
        return float(value)

    tree.add_validator("/robot/speed", positive)
    tree.set("/robot/speed", 2)
    assert tree.get("/robot/speed") == 2.0
    with pytest.raises(ValidationError) as err:
        tree.set("/robot", {"speed": -1})
    assert err.value.field == "/robot/speed"
    assert tree.get("/robot/speed") == 2.0


def test_a_validated_param_cannot_become_a_namespace() -> None:
    """Found by schemathesis: ``PUT /api/params/robot/scan_rate`` with ``{}`` (or a value under
    ``robot/scan_rate/x``) turned the rate into a dict and broke the simulated robot's loop."""
    tree = ParamTree()
    tree.add_validator("/robot/rate", lambda value: float(value))
    tree.set("/robot/rate", 10)
    for name, value in [("/robot/rate", {}), ("/robot/rate", {"x": 1}), ("/robot/rate/x", 1)]:
        with pytest.raises(ValidationError) as err:
            tree.set(name, value)
        assert err.value.field == "/robot/rate"
    assert tree.get("/robot/rate") == 10.0


def test_deleting_the_last_param_of_a_namespace_removes_the_namespace() -> None:
    tree = ParamTree({"/my/gain": 1, "/my/deep/er": 2, "/keep/a": 1, "/keep/b": 2})
    tree.delete("/my/deep/er")
    assert tree.names() == ["/keep/a", "/keep/b", "/my/gain"]
    tree.delete("/my/gain")
    assert tree.names() == ["/keep/a", "/keep/b"]
    with pytest.raises(NotFoundError):
        tree.get("/my")
    tree.delete("/keep/a")
    assert tree.get("/keep") == {"b": 2}
