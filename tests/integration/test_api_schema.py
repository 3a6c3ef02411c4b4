"""schemathesis against ``/api/openapi.json``: the spec and the server agree, and hostile input
never makes a 500.

A real server (sim robot) over real HTTP, authenticated as an admin with a bearer token, rate
limits raised out of the way. Every operation of the spec gets generated requests (valid ones and
schema-violating ones) and every response is checked: no server error, a documented status code,
a documented content type, a body that fits its schema, documented headers.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from helpers import LiveServer
from rosweb.web.auth import hash_token
from rosweb.web.openapi import openapi_spec

pytestmark = pytest.mark.integration

TOKEN = "t-schemathesis-admin"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
MAX_EXAMPLES = 25

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "unsupported_method",
]


def _config() -> SchemathesisConfig:
    enabled = {name: {"enabled": True} for name in CHECKS}
    return SchemathesisConfig.from_dict(
        {
            "seed": 5,  # the same examples every run: CI failures reproduce
            "headers": ADMIN,
            "request-timeout": 10,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "with-security-parameters": False,  # the admin's token, not generated ones
                "database": "none",
            },
            "checks": {"enabled": False, **enabled},
            "phases": {"stateful": {"enabled": False}},
            "operations": [
                {  # a service that fails or outlives ?timeout= is the gateway's documented
                    # 502/504 (e.g. timeout=0), not a server error
                    "include-path": "/api/services/{service}",
                    "include-method": "POST",
                    "checks": {
                        "not_a_server_error": {
                            "expected-statuses": ["2xx", "3xx", "4xx", "502", "504"]
                        }
                    },
                }
            ],
        }
    )


class Tally:
    """Examples tested per operation, printed after the run (for the issue's counts)."""

    def __init__(self) -> None:
        self.examples: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()


TALLY = Tally()


SCHEMA = schemathesis.openapi.from_dict(openapi_spec(), config=_config())


@pytest.fixture
def live(
    serve: Callable[..., LiveServer], caplog: pytest.LogCaptureFixture
) -> Iterator[LiveServer]:
    """A fresh server per operation: DELETE /api/params and POST /api/estop change the robot.
    After the run, nothing of rosweb's logged an error (the robot's own loop included)."""
    live = serve(
        {
            "ROSWEB_USERS": {"root": {"role": "admin", "tokens": [hash_token(TOKEN)]}},
            "ROSWEB_RATE_LIMIT": "100000/second",
        }
    )
    served = requests.get(f"{live.url}/api/openapi.json", timeout=5).json()
    assert served == json.loads(json.dumps(openapi_spec()))  # what we test is what is served
    yield live
    time.sleep(0.2)  # a robot loop broken by the last request logs within a step
    errors = [
        r for r in caplog.records if r.name.startswith("rosweb") and r.levelno >= logging.ERROR
    ]
    assert not errors, [r.getMessage() for r in errors]
    health = requests.get(f"{live.url}/api/health", headers=ADMIN, timeout=5)
    assert health.status_code == 200, health.text


@pytest.fixture(scope="module", autouse=True)
def _report(pytestconfig: pytest.Config) -> Iterator[None]:
    started = time.monotonic()
    yield
    elapsed = time.monotonic() - started
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(
            f"\nschemathesis: {len(TALLY.examples)} operations, "
            f"{sum(TALLY.examples.values())} examples in {elapsed:.1f} s; "
            f"statuses {dict(sorted(TALLY.statuses.items()))}"
        )
        for label, count in sorted(TALLY.examples.items()):
            print(f"  {count:4d}  {label}")


@SCHEMA.parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # one server per operation
def test_api_conforms_to_its_openapi_spec(case: Any, live: LiveServer) -> None:
    if case.operation.path.endswith("/events"):  # an endless stream when the topic exists
        request = case.as_transport_kwargs(base_url=live.url)
        with requests.request(**request, stream=True, timeout=10) as stream:
            if stream.status_code == 200:
                assert stream.headers["Content-Type"].startswith("text/event-stream")
                assert next(stream.iter_lines()).startswith(b": rosweb event stream")
                TALLY.examples[case.operation.label] += 1
                TALLY.statuses[200] += 1
                return
    response = case.call_and_validate(base_url=live.url)
    TALLY.examples[case.operation.label] += 1
    TALLY.statuses[response.status_code] += 1
