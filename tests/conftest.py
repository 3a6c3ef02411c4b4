"""Fixtures: ``app``, ``client`` (Flask test client), ``live_server`` (real HTTP on loopback)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from helpers import LiveServer
from rosweb.server import Server
from rosweb.web import RosWeb, create_app


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own ROSWEB_* settings never leak into tests."""
    import os

    for key in list(os.environ):
        if key.startswith("ROSWEB_"):
            monkeypatch.delenv(key)


@pytest.fixture
def app() -> Iterator[Flask]:
    app = create_app({"TESTING": True})
    yield app
    RosWeb.close(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def live_server() -> Iterator[LiveServer]:
    """The real app (sim robot) served by rosweb's Tornado server on a free loopback port."""
    app = create_app({"TESTING": True})
    server = Server(app, "127.0.0.1", 0, threads=8)
    server.start()
    yield LiveServer(app, server)
    server.stop()
    RosWeb.close(app)
