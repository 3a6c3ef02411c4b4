"""Helpers shared across the suite."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask

from rosweb.server import Server
from rosweb.web import RosWebState

T = TypeVar("T")


class LiveServer:
    def __init__(self, app: Flask, server: Server) -> None:
        self.app = app
        self.server = server
        self.url = server.url

    @property
    def state(self) -> RosWebState:
        return self.app.extensions["rosweb"]


def assert_error(
    response: Any, status: int, code: str | None = None, field: str | None = None
) -> dict[str, Any]:
    """The response is rosweb's one JSON error shape with this status (and code, field)."""
    body = response.json() if callable(getattr(response, "json", None)) else response.json
    assert response.status_code == status, (response.status_code, body)
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["code"], str)
    assert error["code"]
    assert isinstance(error["message"], str)
    assert error["message"]
    assert set(error) <= {"code", "message", "field"}, error
    if code is not None:
        assert error["code"] == code, error
    if field is not None:
        assert error.get("field") == field, error
    return dict(error)


def wait_for(predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.02) -> T:
    """Poll until ``predicate()`` is truthy; returns its value or fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
