"""Starting the examples (``examples/*/app.py``) as a user would: ``flask --app ... run``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests
from e2e_helpers import ARTIFACTS, DESKTOP, PageProblems, open_page
from playwright.sync_api import Browser, Page

from helpers import free_port, wait_for

EXAMPLES = Path(__file__).parents[2] / "examples"
FLASK = Path(sys.executable).with_name("flask")


@contextmanager
def serve_example(
    name: str, settings: Mapping[str, str] | None = None, *, reload: bool = False
) -> Iterator[str]:
    """``flask --app examples/NAME/app.py run`` on a free loopback port (``reload``: with the
    reloader), with ``settings`` in its environment; yields its URL. Its log goes to
    ``tests/e2e/artifacts/example-NAME.log``."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROSWEB_", "FLASK_"))}
    env.update(settings or {})
    command = [str(FLASK), "--app", str(EXAMPLES / name / "app.py"), "run", "--port", str(port),
               "--reload" if reload else "--no-reload"]  # fmt: skip
    log_name = f"example-{name}.log"
    with (ARTIFACTS / log_name).open("w") as log:
        proc = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, f"the example exited: see tests/e2e/artifacts/{log_name}"
        try:
            return requests.get(f"{url}/api/", timeout=1).ok
        except requests.ConnectionError:
            return False

    try:
        wait_for(up, timeout=30, interval=0.1)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


#: what a page may log when a test makes the server refuse on purpose
REFUSED = re.compile(
    r"Failed to load resource: the server responded with a status of (401|403|409|422)"
)


@contextmanager
def checked_page(
    browser: Browser, url: str, viewport: dict[str, int] = DESKTOP, *, refusals: bool = False
) -> Iterator[tuple[Page, PageProblems]]:
    """A fresh browser context on ``url``; when it closes, the page must have thrown nothing,
    logged no error (but the server's refusals, with ``refusals``) and fetched nothing from
    another origin."""
    page, problems = open_page(browser, url, viewport)
    try:
        yield page, problems
    finally:
        page.context.close()
    errors = [e for e in problems.errors if not (refusals and REFUSED.search(e))]
    assert not problems.foreign, problems.foreign
    assert not errors, errors
