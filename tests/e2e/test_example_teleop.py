"""Example 1, the teleop web app: arrow buttons posting to the app's own route (``rw.robot``),
the camera and the e-stop macros, driven in Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_helpers import ARTIFACTS, Robot
from example_helpers import EXAMPLES, checked_page, serve_example
from playwright.sync_api import Browser, Page, expect

from helpers import wait_for


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with serve_example("teleop") as url:
        yield url


@pytest.fixture
def robot(app_url: str) -> Iterator[Robot]:
    robot = Robot(app_url)
    robot.reset()
    yield robot
    robot.reset()
    robot.close()


@pytest.fixture
def page(browser: Browser, app_url: str, robot: Robot) -> Iterator[Page]:
    with checked_page(browser, app_url, refusals=True) as (page, _problems):
        yield page


def test_it_is_under_60_lines() -> None:
    files = [EXAMPLES / "teleop" / "app.py", EXAMPLES / "teleop" / "templates" / "index.html"]
    assert sum(len(Path(f).read_text().splitlines()) for f in files) < 60


def test_hold_an_arrow_to_drive_let_go_to_stop(page: Page, robot: Robot, app_url: str) -> None:
    page.goto(app_url)
    camera = page.locator("[data-rw-widget=camera]")
    expect(camera).to_have_attribute("data-state", "live")  # frames arrive
    assert page.evaluate("document.querySelector('.rw-camera-img').naturalWidth") > 0
    x0 = robot.x()
    page.locator("[data-move=forward]").hover()
    page.mouse.down()
    wait_for(lambda: robot.x() > x0 + 0.1, timeout=15)
    page.mouse.up()
    wait_for(robot.still, timeout=5)  # let go: a stop at once
    stopped = robot.x()
    page.wait_for_timeout(500)
    assert abs(robot.x() - stopped) < 0.02

    theta0 = robot.theta()
    page.locator("[data-move=left]").hover()
    page.mouse.down()
    wait_for(lambda: robot.theta() > theta0 + 0.2, timeout=15)
    page.locator("[data-move=stop]").hover()  # sliding onto stop lets go, the stop button stops
    page.mouse.up()
    wait_for(robot.still, timeout=5)
    page.screenshot(path=str(ARTIFACTS / "example-teleop.png"))


def test_the_estop_macro_holds_the_route_back(page: Page, robot: Robot, app_url: str) -> None:
    page.goto(app_url)
    page.locator(".rw-estop-button").click()
    expect(page.locator("[data-rw-widget=estop]")).to_have_attribute("data-state", "engaged")
    # the page says engaged at the click ("not confirmed yet"), the server a moment later
    wait_for(lambda: (robot.get("estop")["estop"] or {}).get("by") == "anonymous", timeout=5)
    # the app's own route is refused while the e-stop is engaged (409 from rw.robot)
    answer = robot.http.post(f"{app_url}/move/forward", timeout=5)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "estop_engaged"
    x0 = robot.x()
    page.locator("[data-move=forward]").hover()
    page.mouse.down()
    page.wait_for_timeout(600)
    page.mouse.up()
    assert abs(robot.x() - x0) < 0.01
    page.locator(".rw-estop-clear").click()
    expect(page.locator("[data-rw-widget=estop]")).to_have_attribute("data-state", "clear")
    assert robot.get("estop")["estop"] is None
