"""The README documents what the code has: settings, CLI commands, REST routes."""

from __future__ import annotations

import re
from pathlib import Path

import click
from flask import Flask

from rosweb import config
from rosweb.cli import cli

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_readme_starts_with_the_two_commands() -> None:
    commands = re.findall(r"^(make \w+)", README, re.MULTILINE)
    assert commands[:2] == ["make run", "make test"]


def test_every_setting_is_documented() -> None:
    for key in config.DEFAULTS:
        assert f"`{key}`" in README, key


def _commands(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append((f"{prefix} {name}", command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, f"{prefix} {name}"))
    return found


def test_every_cli_command_is_documented() -> None:
    for name in cli.commands:
        assert f"`rosweb {name}" in README, name


def test_every_cli_subcommand_and_option_is_documented() -> None:
    for path, command in _commands(cli, "rosweb"):
        assert f"`{path}" in README, path
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                longest = max(param.opts, key=len)
                assert re.search(rf"{re.escape(longest)}\b", README), f"{path} {longest}"


def test_every_rest_route_is_in_the_readme_table(app: Flask) -> None:
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule == "/api/":
            continue
        path = re.sub(r"<(?:[a-z]+:)?[a-z_]+>", "<", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            pattern = re.escape(f"`{method} {path}").replace("<", r"<[^>]+>")
            assert re.search(pattern, README), f"{method} {rule.rule}"


# -- figures and facts the README states about the code -------------------------------------------


def test_the_deadman_figure_is_the_default_timeout() -> None:
    timeout = config.DEFAULTS["ROSWEB_TELEOP_TIMEOUT"]
    text = README.replace("\n", " ")
    figures = re.findall(r"deadman (?:stops|publishes)[^.]*?(\d+(?:\.\d+)?) s\b", text)
    figures += re.findall(r"lasts (\d+(?:\.\d+)?) s\b[^.]*?unless repeated", text)
    assert figures, "README states no deadman figure"
    assert {float(f) for f in figures} == {timeout}, figures


def test_the_sim_topics_and_services_are_named_with_their_types() -> None:
    from rosweb.graph.sim import SimGraph

    with SimGraph() as sim:
        topics = sim.topics()
        services = sim.services()
    for name in topics:
        assert f"`{name}`" in README, name
    for name, type_name in services.items():
        assert f"`{name}` ({type_name})" in README, name
        for claimed in re.findall(rf'call\("{re.escape(name)}"\)[^\n]*?#[^\n]*?(\w+/\w+)', README):
            assert claimed == type_name, f"README says {name} is {claimed}, it is {type_name}"


def test_the_estop_is_described_as_the_servers_latch() -> None:
    paragraph = README.split("- **E-STOP**", 1)[1].split("\n- ", 1)[0]
    assert "POST /api/estop" in paragraph
    assert "client-side" not in paragraph


def test_rosapi_services_of_rosweb_and_client_env_vars_are_documented() -> None:
    from rosweb.core.bridge.rosapi import ROSAPI

    own = {"/rosapi/topic_stats"}  # not in rosapi: rosweb's own
    assert own <= set(ROSAPI)
    for name in own:
        assert f"`{name}`" in README, name
    for _path, command in _commands(cli, "rosweb"):
        for param in command.params:
            envvar = getattr(param, "envvar", None)
            if isinstance(envvar, str):
                assert f"`{envvar}`" in README, envvar


def test_every_default_in_the_settings_table_is_the_codes() -> None:
    rows = re.findall(r"^\| `(ROSWEB_\w+)` \| `([^`]*)` \|", README, re.MULTILINE)
    assert len(rows) >= len(config.DEFAULTS) - 1  # ROSWEB_CONFIG names the file, not a key
    for key, shown in rows:
        default = config.DEFAULTS[key]
        if isinstance(default, bool):
            assert shown == str(default).lower(), key
        elif isinstance(default, int | float):
            assert float(shown) == default, key
        elif isinstance(default, str):
            assert shown.strip('"') == default, key
