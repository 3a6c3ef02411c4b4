"""README's "Your own Flask app" is the reference of the API for your own app: every public name
of the extension, the guarded robot, properties, subscriptions and the widgets is in it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pytest
from flask import Flask

from rosweb.core import Robot, Subscription
from rosweb.core.parammap import ParamMap
from rosweb.core.properties import Property
from rosweb.web import RosWeb

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text()
SECTION = README.split("\n## Your own Flask app\n", 1)[1].split("\n## ", 1)[0]
WIDGETS = SECTION.split("\n### Widgets", 1)[1].split("\n### ", 1)[0]
MACROS = ROOT / "src/rosweb/web/ui/templates/rosweb/macros.html"


def public(names: Iterable[str]) -> list[str]:
    return sorted(name for name in names if not name.startswith("_"))


def missing(names: Iterable[str]) -> list[str]:
    """The names no code span of the section mentions (`rw.robot`, `publish(topic, ...)`)."""
    spans = re.findall(r"`([^`\n]+)`", SECTION)
    return [n for n in names if not any(re.search(rf"\b{re.escape(n)}\b", s) for s in spans)]


def test_the_section_exists_and_shows_the_api() -> None:
    assert "rw = RosWeb(app)" in SECTION
    assert "@rw.subscriber(" in SECTION
    assert "rw.property(" in SECTION
    assert '{% from "rosweb/macros.html" import' in SECTION


def test_every_public_name_of_the_extension_is_documented() -> None:
    assert missing(public(dir(RosWeb))) == []


def test_every_public_name_of_the_robot_your_code_holds_is_documented() -> None:
    app = Flask("docs")
    app.config.update(ROSWEB_ESTOP_FILE="")
    rw = RosWeb(app)
    try:
        with app.app_context():
            robot = rw.robot
        names = public(dir(robot))
        assert {"publish", "subscribe", "latest", "call", "params", "teleop", "caller"} <= set(
            names
        )
        assert missing(names) == []
    finally:
        RosWeb.close(app)


@pytest.mark.parametrize("cls", [Property, Subscription, ParamMap])
def test_every_public_name_of_what_it_returns_is_documented(cls: type) -> None:
    names = set(public(dir(cls)))
    if cls is Property:  # and what __init__ sets
        prop = Property("/p", lambda: 1.0)
        names |= set(public(vars(prop)))
    if cls is ParamMap:  # the mapping's own methods are Python's
        names -= set(dir(dict)) | {"pop", "popitem", "setdefault", "update", "clear"}
    assert missing(sorted(names)) == []


def test_the_core_robot_s_property_api_is_documented() -> None:
    assert missing(["add_property", "properties"]) == []
    assert hasattr(Robot, "add_property")


def test_every_macro_is_documented() -> None:
    macros = re.findall(r"{%-? macro (\w+)\(", MACROS.read_text())
    public_macros = [m for m in macros if not m.startswith("_")]
    assert len(public_macros) >= 12
    assert missing(public_macros) == []
    for name in public_macros:  # with its arguments as the template declares them
        declared = re.search(rf"{{%-? macro {name}\((.*?)\)", MACROS.read_text(), re.S)
        assert declared is not None
        args = [a.split("=")[0].strip() for a in declared[1].split(",") if a.strip()]
        row = re.search(rf"`{name}\(([^`]*)\)`", WIDGETS)
        assert row is not None, name
        assert [a.split("=")[0].strip() for a in row[1].split(",") if a.strip()] == args, name


def test_every_template_global_of_the_widgets_is_documented() -> None:
    app = Flask("docs")
    app.config.update(ROSWEB_ESTOP_FILE="")
    RosWeb(app)
    try:
        names = [n for n in app.jinja_env.globals if n.startswith("rosweb_")]
        assert len(names) >= 5
        assert missing(names) == []
    finally:
        RosWeb.close(app)


def test_every_example_has_its_command_and_its_browser_test() -> None:
    examples = sorted(p.name for p in (ROOT / "examples").iterdir() if (p / "app.py").is_file())
    assert examples == ["lab", "panel", "teleop", "worker"]
    for name in examples:
        assert f"`make example-{name}`" in SECTION
        assert (ROOT / "tests/e2e" / f"test_example_{name}.py").is_file()
        assert (ROOT / "examples" / name / "templates").is_dir()
