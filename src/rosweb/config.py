"""Settings: one source of truth, the ``ROSWEB_*`` keys of the Flask config.

Each key is documented in README.md (a test checks). Sources, later ones winning:
:data:`DEFAULTS` < a TOML file < ``ROSWEB_*`` environment variables < explicit values
(command-line flags, the ``config`` argument of ``create_app``). Every value is checked against
the type of its default, so a typo fails at start-up, not at the first request.

In TOML, nested tables join with ``_``::

    backend = "sim://"
    [teleop]
    timeout = 0.2          # ROSWEB_TELEOP_TIMEOUT
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rosweb.errors import ConfigError

__all__ = ["DEFAULTS", "check", "from_env", "from_toml", "load"]

DEFAULTS: dict[str, Any] = {
    "ROSWEB_BACKEND": "sim://",
    "ROSWEB_HOST": "127.0.0.1",
    "ROSWEB_PORT": 8080,
    "ROSWEB_THREADS": 32,
    "ROSWEB_WORKERS": 1,
    "ROSWEB_TELEOP_TOPIC": "/cmd_vel",
    "ROSWEB_TELEOP_LINEAR_SPEED": 0.3,
    "ROSWEB_TELEOP_ANGULAR_SPEED": 1.0,
    "ROSWEB_TELEOP_TIMEOUT": 0.2,
    "ROSWEB_TELEOP_STAMPED": "auto",
    "ROSWEB_TELEOP_FRAME_ID": "base_link",
    "ROSWEB_MAX_LINEAR_SPEED": 1.0,
    "ROSWEB_MAX_ANGULAR_SPEED": 2.0,
    "ROSWEB_LATEST_TIMEOUT": 2.0,
    "ROSWEB_MAX_WAITING_READS": 8,
    "ROSWEB_SERVICE_TIMEOUT": 10.0,
    "ROSWEB_CACHE_TTL": 60.0,
    "ROSWEB_CACHE_TOPICS": "auto",
    "ROSWEB_BRIDGE_PATH": "/ws",
    "ROSWEB_ROSBRIDGE_PORT": 0,
    "ROSWEB_BRIDGE_QUEUE_LENGTH": 10,
    "ROSWEB_WS_STALL_TIMEOUT": 10.0,
    "ROSWEB_PARAM_META": {},
    "ROSWEB_GOAL_TOPIC": "",
    "ROSWEB_EVENT_LOG_SIZE": 500,
    "ROSWEB_PARAMS": {},
    # -- safety and security
    "ROSWEB_COMMAND_TOPICS": [],
    "ROSWEB_CONTROL_TTL": 30.0,
    "ROSWEB_ESTOP_RATE": 10.0,
    "ROSWEB_ESTOP_FILE": "auto",
    "ROSWEB_MOTION_SERVICES": ["/reset"],
    "ROSWEB_MAX_ENCODERS": 8,
    "ROSWEB_USERS": {},
    "ROSWEB_ROLES": {},
    "ROSWEB_ANONYMOUS_ROLE": "",
    "ROSWEB_INSECURE": False,
    "ROSWEB_SECRET_KEY": "",
    "ROSWEB_SESSION_LIFETIME": 43200.0,
    "ROSWEB_CORS_ORIGINS": [],
    "ROSWEB_ALLOW_TOPICS": ["*"],
    "ROSWEB_DENY_TOPICS": [],
    "ROSWEB_ALLOW_SERVICES": ["*"],
    "ROSWEB_DENY_SERVICES": [],
    "ROSWEB_ALLOW_PARAMS": ["*"],
    "ROSWEB_DENY_PARAMS": [],
    "ROSWEB_RATE_LIMIT": "100/second",
    "ROSWEB_WS_RATE_LIMIT": "2000/second",
    "ROSWEB_MAX_BODY": 16 << 20,
    "ROSWEB_MAX_WS_MESSAGE": 16 << 20,
    "ROSWEB_AUDIT_LOG": "",
    "ROSWEB_AUDIT_LOG_MAX_BYTES": 10 << 20,
    "ROSWEB_AUDIT_LOG_BACKUPS": 5,
    "ROSWEB_CERT": "",
    "ROSWEB_KEY": "",
    # -- video (the video extra)
    "ROSWEB_INPUTS": [],
    "ROSWEB_COMPRESSED_TOPICS": [],
    "ROSWEB_COMPRESSED_QUALITY": 80,
    "ROSWEB_WEBRTC_BITRATE": 1_000_000,
    "ROSWEB_WEBRTC_MAX_SESSIONS": 16,
    "ROSWEB_WEBRTC_TIMEOUT": 10.0,
    "ROSWEB_WEBRTC_ICE_SERVERS": [],
    # -- fleets over MQTT (rosweb.fleet)
    "ROSWEB_FLEET": "",
    "ROSWEB_FLEET_ROBOT": "",
    "ROSWEB_FLEET_ROLE": "operator",
    "ROSWEB_FLEET_TOPICS": ["/odom@5", "/battery@1", "/camera/image_raw@1"],
    "ROSWEB_FLEET_JPEG_QUALITY": 60,
    "ROSWEB_FLEET_JPEG_WIDTH": 320,
    "ROSWEB_FLEET_COMMAND_TTL": 0.5,
    "ROSWEB_FLEET_WORKERS": 4,
    "ROSWEB_FLEET_MAX_PENDING": 64,
    "ROSWEB_FLEET_USERNAME": "",
    "ROSWEB_FLEET_PASSWORD": "",
    "ROSWEB_FLEET_CA": "",
    "ROSWEB_FLEET_CERT": "",
    "ROSWEB_FLEET_KEY": "",
    "ROSWEB_FLEET_PREFIX": "",
    "ROSWEB_FLEET_ENCODING": "",
    "ROSWEB_FLEET_KEEPALIVE": 0,
}

#: where the values of dict-typed settings are tables of tables
_TABLES_OF_TABLES = ("ROSWEB_PARAM_META", "ROSWEB_USERS", "ROSWEB_ROLES")


def _coerce(key: str, value: Any) -> Any:
    """``value`` as the type of the key's default; raises ConfigError."""
    expected = type(DEFAULTS[key])
    if isinstance(value, str) and expected is list and not value.lstrip().startswith("["):
        value = [item.strip() for item in value.split(",") if item.strip()]  # a,b,c
    if isinstance(value, str) and expected is not str:
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ConfigError(f"{key}: expects {expected.__name__}, got {value!r}") from None
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not expected:
        raise ConfigError(f"{key}: expects {expected.__name__}, got {value!r}")
    if expected in (int, float) and value < 0:
        raise ConfigError(f"{key}: expects a non-negative number, got {value!r}")
    if expected is dict and key in _TABLES_OF_TABLES:
        for name, item in value.items():
            if not isinstance(item, dict):
                raise ConfigError(f"{key}: {name} expects a table, got {item!r}")
    if expected is list and not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{key}: expects a list of strings, got {value!r}")
    return value


def check(config: Mapping[str, Any]) -> dict[str, Any]:
    """The ``ROSWEB_*`` items of ``config``, checked; unknown ``ROSWEB_`` keys are errors."""
    result = {}
    for key, value in config.items():
        if not key.startswith("ROSWEB_"):
            continue
        if key not in DEFAULTS:
            raise ConfigError(f"unknown setting {key}; known: {', '.join(sorted(DEFAULTS))}")
        result[key] = _coerce(key, value)
    return result


def from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``ROSWEB_*`` environment variables (``ROSWEB_CONFIG`` names a TOML file, not a key)."""
    env = os.environ if environ is None else environ
    return check({k: v for k, v in env.items() if k.startswith("ROSWEB_") and k != "ROSWEB_CONFIG"})


def _flatten(table: Mapping[str, Any], prefix: str = "ROSWEB") -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in table.items():
        name = key.upper() if key.upper().startswith("ROSWEB_") else f"{prefix}_{key.upper()}"
        if isinstance(value, dict) and not isinstance(DEFAULTS.get(name), dict):
            result.update(_flatten(value, name))
        else:
            result[name] = value
    return result


def from_toml(path: str | Path) -> dict[str, Any]:
    """Settings from a TOML file; raises ConfigError naming the file."""
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror}") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {path}: {err}") from err
    try:
        return check(_flatten(table))
    except ConfigError as err:
        raise ConfigError(f"config file {path}: {err}") from err


def load(
    overrides: Mapping[str, Any] | None = None,
    *,
    toml_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Every setting, from all sources in order of precedence."""
    env = os.environ if environ is None else environ
    toml_file = toml_file or env.get("ROSWEB_CONFIG") or None
    settings = dict(DEFAULTS)
    if toml_file:
        settings.update(from_toml(toml_file))
    settings.update(from_env(env))
    settings.update(check(overrides or {}))
    return settings
