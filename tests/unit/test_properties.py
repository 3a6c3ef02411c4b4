"""Properties and the one value check (rosweb.core.properties), with no server."""

from __future__ import annotations

import math
from typing import Any

import pytest

from rosweb.core import Robot
from rosweb.core.properties import Properties, Property, check_value
from rosweb.errors import ConfigError, RosWebError, ValidationError


@pytest.mark.parametrize(
    ("meta", "value", "stored"),
    [
        ({"type": "float", "min": 0, "max": 1}, 1, 1.0),  # an int for a float
        ({"type": "int"}, 3.0, 3),  # an integral float for an int
        ({"min": 0, "max": 10}, 5, 5),  # a range alone means a number
        ({"type": "bool"}, False, False),
        ({"type": "str", "choices": ["a", "b"]}, "b", "b"),
        ({}, {"any": "thing"}, {"any": "thing"}),
    ],
)
def test_values_that_fit(meta: dict[str, Any], value: Any, stored: Any) -> None:
    checked = check_value("/p", value, meta)
    assert checked == stored
    assert type(checked) is type(stored)


@pytest.mark.parametrize(
    ("meta", "value", "reason"),
    [
        ({"type": "float"}, True, "expects a number"),  # a bool is no number
        ({"type": "float"}, "0.5", "expects a number"),
        ({"type": "float"}, math.nan, "finite"),
        ({"type": "int"}, 2.5, "expects an integer"),
        ({"min": 0, "max": 1}, 1.5, "expects a value in [0, 1], got 1.5"),
        ({"min": 0}, -1, "expects a value in [0, inf]"),
        ({"type": "bool"}, 1, "expects true or false"),
        ({"type": "str"}, 5, "expects a string"),
        ({"choices": ["a", "b"]}, "c", "expects one of ['a', 'b']"),
    ],
)
def test_values_refused_name_the_reason(meta: dict[str, Any], value: Any, reason: str) -> None:
    with pytest.raises(ValidationError) as err:
        check_value("/p", value, meta)
    assert reason in str(err.value)
    assert err.value.field == "/p"


def test_a_property_declares_sensible_meta() -> None:
    with pytest.raises(ValueError, match="type"):
        Property("/p", lambda: 1, type=list)
    with pytest.raises(ValueError, match="min"):
        Property("/p", lambda: "x", type=str, min=0)
    with pytest.raises(ValueError, match="above max"):
        Property("/p", lambda: 1, min=2, max=1)
    with pytest.raises(ValueError, match="needs a name"):
        Property("/", lambda: 1)
    registry = Properties()
    registry.add(Property("/a/b", lambda: 1.0))
    with pytest.raises(ValueError, match="already"):
        registry.add(Property("a/b", lambda: 1.0))
    with pytest.raises(ValueError, match="nest"):
        registry.add(Property("/a/b/c", lambda: 1.0))


def test_your_setter_may_refuse_and_a_broken_getter_is_reported() -> None:
    def picky(value: float) -> None:
        raise ValueError("not on Tuesdays")

    prop = Property("/p", lambda: 1.0, picky)
    with pytest.raises(ValidationError, match="not on Tuesdays"):
        prop.write(0.5)
    broken = Property("/q", lambda: 1 / 0)
    with pytest.raises(RosWebError, match="getter of property /q failed"):
        broken.read()


def test_start_values_reach_a_property_declared_with_a_decorator() -> None:
    registry = Properties({"/p": 0.25})
    store = {"p": 1.0}
    prop = registry.add(Property("/p", lambda: store["p"], min=0, max=1))
    assert store == {"p": 1.0}  # no setter yet: the value waits for it
    prop.setter(lambda value: store.__setitem__("p", value))
    assert store == {"p": 0.25}
    bad = Properties({"/q": 7})
    with pytest.raises(ConfigError, match="ROSWEB_PARAMS"):
        bad.add(Property("/q", lambda: 1.0, lambda v: None, min=0, max=1))
    assert bad.get("/q") is None


def test_the_robot_reads_namespaces_with_the_properties_inside() -> None:
    with Robot.from_settings({"ROSWEB_ESTOP_FILE": "", "ROSWEB_BACKEND": "sim://"}) as robot:
        robot.add_property("/robot/extra/level", lambda: 3, type=int)
        tree = robot.local.get_param("/robot")
        assert tree["extra"] == {"level": 3}
        assert tree["max_linear_speed"] == 1.0  # the backend's, beside it
        assert "/robot/extra/level" in robot.local.param_names()
        with pytest.raises(ValidationError, match="holds properties"):
            robot.local.set_param("/robot/extra", 5)
        with pytest.raises(ValidationError, match="cannot be deleted"):
            robot.local.delete_param("/robot/extra/level")
