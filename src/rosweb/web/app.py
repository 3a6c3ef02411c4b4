"""The application factory: a Flask app with rosweb's robot node, API and browser UI."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from rosweb.graph import Graph
from rosweb.web.extension import RosWeb
from rosweb.web.fleet import register_fleet
from rosweb.web.ui import register_ui

__all__ = ["create_app"]


def create_app(config: Mapping[str, Any] | None = None, *, graph: Graph | None = None) -> Flask:
    """A Flask app serving the robot named by ``ROSWEB_BACKEND`` (or ``graph``).

    Settings come from ``config`` over ``ROSWEB_*`` environment variables over the TOML file
    ``ROSWEB_CONFIG`` over defaults (see :mod:`rosweb.config`).
    """
    app = Flask("rosweb")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config.update(config or {})
    RosWeb(app, graph=graph)
    register_ui(app)  # the browser UI at /
    register_fleet(app)  # the fleet page and each robot's scope, when the backend is mqtt://
    return app
