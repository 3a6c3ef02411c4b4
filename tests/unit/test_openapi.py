"""The OpenAPI document matches the app: every route and method is in it, and it is valid."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate


def routes(app: Flask) -> set[tuple[str, str]]:
    result = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                result.add((path, method.lower()))
    return result


def test_every_route_is_documented(app: Flask, client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").json
    documented = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert routes(app) - documented == set()
    assert documented - routes(app) == set()


def test_document_is_valid_openapi(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").json
    validate(spec)
    assert spec["openapi"].startswith("3.")
