"""Settings: defaults < TOML < environment < explicit, each checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from rosweb import config
from rosweb.errors import ConfigError


def test_defaults_are_safe() -> None:
    settings = config.load(environ={})
    assert settings["ROSWEB_HOST"] == "127.0.0.1"
    assert settings["ROSWEB_BACKEND"] == "sim://"
    assert settings["ROSWEB_TELEOP_TIMEOUT"] == 0.5


def test_precedence_toml_env_explicit(tmp_path: Path) -> None:
    toml = tmp_path / "rosweb.toml"
    toml.write_text(
        'port = 9000\nbackend = "sim://?robot=0"\n[teleop]\ntimeout = 0.25\nlinear_speed = 0.2\n'
    )
    env = {"ROSWEB_PORT": "9100", "ROSWEB_CONFIG": str(toml)}
    settings = config.load({"ROSWEB_TELEOP_LINEAR_SPEED": 0.1}, environ=env)
    assert settings["ROSWEB_PORT"] == 9100
    assert settings["ROSWEB_BACKEND"] == "sim://?robot=0"
    assert settings["ROSWEB_TELEOP_TIMEOUT"] == 0.25
    assert settings["ROSWEB_TELEOP_LINEAR_SPEED"] == 0.1


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ROSWEB_PORT": "eighty"}, "ROSWEB_PORT: expects int"),
        ({"ROSWEB_TELEOP_TIMEOUT": "-1"}, "non-negative"),
        ({"ROSWEB_PROT": "8080"}, "unknown setting ROSWEB_PROT"),
    ],
)
def test_bad_settings_fail_early(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.load(environ=env)


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    toml = tmp_path / "bad.toml"
    toml.write_text("port = \n")
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        config.load(toml_file=toml, environ={})
    with pytest.raises(ConfigError, match="cannot read"):
        config.load(toml_file=tmp_path / "missing.toml", environ={})
