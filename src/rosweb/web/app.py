"""The application factory: a Flask app with rosweb's robot node and API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, render_template_string

from rosweb import __version__
from rosweb.graph import Graph
from rosweb.web.extension import RosWeb, get_state

__all__ = ["create_app"]

_INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rosweb</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto">
<h1>rosweb {{ version }}</h1>
<p>Robot backend: <code>{{ backend }}</code></p>
<ul>
  <li><a href="/api/topics">/api/topics</a> &mdash; topics and types</li>
  <li><a href="/api/services">/api/services</a> &mdash; services</li>
  <li><a href="/api/params">/api/params</a> &mdash; parameters</li>
  <li><a href="/api/types">/api/types</a> &mdash; message types</li>
  <li><a href="/api/health">/api/health</a> &mdash; health</li>
  <li><a href="/api/openapi.json">/api/openapi.json</a> &mdash; OpenAPI 3 description</li>
</ul></body></html>
"""


def create_app(config: Mapping[str, Any] | None = None, *, graph: Graph | None = None) -> Flask:
    """A Flask app serving the robot named by ``ROSWEB_BACKEND`` (or ``graph``).

    Settings come from ``config`` over ``ROSWEB_*`` environment variables over the TOML file
    ``ROSWEB_CONFIG`` over defaults (see :mod:`rosweb.config`).
    """
    app = Flask("rosweb")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config.update(config or {})
    RosWeb(app, graph=graph)

    @app.get("/")
    def index() -> Response:
        backend = get_state().graph.url
        return Response(render_template_string(_INDEX, version=__version__, backend=backend))

    return app
