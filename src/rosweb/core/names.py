"""Checking what callers name and ask for, before anything touches the robot: ROS names and
numeric arguments (query parameters, op fields). Errors are :class:`~rosweb.errors.BadRequest`
(400) naming the argument."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from rosweb.errors import BadRequest
from rosweb.graph import normalize_name

__all__ = ["number_arg", "ros_name"]

_NAME = re.compile(r"^(/[A-Za-z_~][A-Za-z0-9_]*)+$")


def ros_name(raw: str, kind: str = "topic") -> str:
    """A global ROS name from what a caller wrote (``odom`` -> ``/odom``); 400 if invalid."""
    name = normalize_name(raw)
    if not _NAME.match(name):
        raise BadRequest(f"{raw!r} is not a valid ROS {kind} name", "bad_name")
    return name


def number_arg(args: Mapping[str, str], key: str, default: float, low: float, high: float) -> float:
    """A number argument within [low, high]; 400 naming it otherwise (NaN and junk too)."""
    raw = args.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if not low <= value <= high:
        raise BadRequest(f"{key} expects a number in [{low:g}, {high:g}]", "bad_parameter", key)
    return value
