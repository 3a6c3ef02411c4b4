"""End-to-end fixtures: ``rosweb run`` on the simulated robot, driven by a real browser.

The browser is Debian's Chromium (``apt-get install chromium``; ``make test`` does it as root)
through the ``playwright`` package, never a browser that ``playwright install`` downloads.
``robot`` talks to the server over REST, as a person with ``curl`` would, to check what the page
did; ``page`` is a fresh browser context (1440x900) on the running server. Screenshots go to
``tests/e2e/artifacts/`` (git-ignored), with the server's log.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_helpers import CHROMIUM, CHROMIUM_ARGS, DESKTOP, Robot, open_page, serve_rosweb
from playwright.sync_api import Browser, Page, Playwright, sync_playwright


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """``rosweb run`` on the simulated robot on a free loopback port; yields its URL."""
    with serve_rosweb({}, "rosweb.log") as url:
        yield url


@pytest.fixture(scope="session")
def robot_session(server: str) -> Iterator[Robot]:
    robot = Robot(server)
    yield robot
    robot.close()


@pytest.fixture
def robot(robot_session: Robot) -> Iterator[Robot]:
    """The robot at its start pose with default parameters (and left that way)."""
    robot_session.reset()
    yield robot_session
    robot_session.reset()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` (as root) installs Debian's chromium")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser, server: str, robot: Robot) -> Iterator[Page]:
    """A fresh browser context (no e-stop latch, no stored speed) on the server, 1440x900."""
    page, problems = open_page(browser, server, DESKTOP)
    yield page
    page.context.close()
    assert not problems.foreign, f"requests outside the server: {problems.foreign}"
    assert not problems.errors, problems.errors
