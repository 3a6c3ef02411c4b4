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
    assert settings["ROSWEB_TELEOP_TIMEOUT"] == 0.2


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


def test_param_meta_from_toml_reaches_the_api_and_the_ui_controls(tmp_path: Path) -> None:
    from rosweb.web import RosWeb, create_app

    toml = tmp_path / "robot.toml"
    toml.write_text('[param_meta."/arm/gain"]\nmin = 0.0\nmax = 5.0\nstep = 0.5\nunit = "x"\n')
    settings = config.load(toml_file=toml, environ={})
    assert settings["ROSWEB_PARAM_META"] == {
        "/arm/gain": {"min": 0.0, "max": 5.0, "step": 0.5, "unit": "x"}
    }
    app = create_app({**settings, "TESTING": True})
    try:
        client = app.test_client()
        client.put("/api/params/arm/gain", json=1.5)
        meta = client.get("/api/params").json["meta"]
        assert meta["/arm/gain"]["max"] == 5.0
        assert meta["/robot/max_linear_speed"]["max"] == 2.0  # the sim's own still there
        page = client.get("/").get_data(as_text=True)
        assert 'data-param="/arm/gain" data-kind="slider"' in page  # a slider, from the meta
    finally:
        RosWeb.close(app)


def test_param_meta_entries_must_be_tables() -> None:
    with pytest.raises(ConfigError, match="expects a table"):
        config.load({"ROSWEB_PARAM_META": {"/arm/gain": 5}}, environ={})
