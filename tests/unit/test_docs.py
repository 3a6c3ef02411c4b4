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
