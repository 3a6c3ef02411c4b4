"""Example 2, the properties panel: Python settings bound by ``rw.property`` to a slider, a
switch and a drop-down; ``@rw.subscriber`` turns scans into a live value, an alarm and a plot."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_helpers import ARTIFACTS, Robot
from example_helpers import checked_page, serve_example
from playwright.sync_api import Browser, Page, expect

from helpers import wait_for

THRESHOLD = '[data-name="/panel/threshold"]'


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with serve_example("panel") as url:
        yield url


@pytest.fixture
def robot(app_url: str) -> Iterator[Robot]:
    robot = Robot(app_url)
    robot.reset()
    robot.send("PUT", "params/panel", {"threshold": 0.5, "enabled": True, "mode": "all"})
    yield robot
    robot.reset()
    robot.close()


@pytest.fixture
def page(browser: Browser, app_url: str, robot: Robot) -> Iterator[Page]:
    with checked_page(browser, app_url, refusals=True) as (page, _problems):
        page.goto(app_url)
        yield page


def nearest(robot: Robot) -> float:
    return float(robot.get("topics/panel/nearest")["msg"]["data"])


def test_the_slider_changes_your_python_value(page: Page, robot: Robot) -> None:
    slider = page.locator(f"{THRESHOLD} input[type=range]")
    expect(slider).to_have_attribute("min", "0.1")  # the range of rw.property(min=, max=)
    expect(slider).to_have_attribute("max", "3.0")
    expect(page.locator(f"{THRESHOLD} .rw-readout")).to_have_text("0.50")
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # two steps of 0.05
    wait_for(lambda: robot.param("panel/threshold") == pytest.approx(0.6))
    expect(page.locator(f"{THRESHOLD} .rw-status")).to_have_text("saved")
    # a change made elsewhere shows up in the page
    robot.send("PUT", "params/panel/threshold", 1.25)
    expect(page.locator(f"{THRESHOLD} .rw-readout")).to_have_text("1.25")


def test_the_switch_and_the_drop_down(page: Page, robot: Robot) -> None:
    switch = page.locator('[data-name="/panel/enabled"] input[type=checkbox]')
    expect(switch).to_be_checked()
    switch.uncheck()
    wait_for(lambda: robot.param("panel/enabled") is False)
    page.locator('[data-name="/panel/mode"] select').select_option("ahead")
    wait_for(lambda: robot.param("panel/mode") == "ahead")
    expect(page.locator('[data-name="/panel/mode"] .rw-status')).to_have_text("saved")


def test_the_subscriber_feeds_a_live_value_an_alarm_and_a_plot(page: Page, robot: Robot) -> None:
    value = page.locator('[data-rw-widget=value][data-topic="/panel/nearest"]')
    wait_for(lambda: float(value.get_attribute("data-value") or 0) > 0)
    assert value.locator(".rw-value-text").inner_text() == f"{nearest(robot):.2f}"
    alarm = page.locator('[data-rw-widget=value][data-topic="/panel/alarm"] .rw-value-text')
    expect(alarm).to_have_text("false")
    # the threshold above the nearest obstacle: the subscriber raises the alarm
    above = round(min(3.0, nearest(robot) + 0.3), 2)
    robot.send("PUT", "params/panel/threshold", above)
    expect(alarm).to_have_text("true")
    alarms = robot.param("panel/alarms")
    wait_for(lambda: robot.param("panel/alarms") > alarms)  # a read-only property of the app
    page.locator('[data-name="/panel/enabled"] input[type=checkbox]').uncheck()
    expect(alarm).to_have_text("false")
    plot = page.locator("[data-rw-widget=plot]")
    wait_for(lambda: int(plot.get_attribute("data-points") or 0) > 10, timeout=10)
    expect(plot.locator("canvas")).to_have_count(1)
    page.screenshot(path=str(ARTIFACTS / "example-panel.png"))


def test_out_of_range_is_refused_and_the_control_returns(page: Page, robot: Robot) -> None:
    answer = robot.http.put(f"{robot.url}/api/params/panel/threshold", json=9, timeout=5)
    assert answer.status_code == 422
    assert "[0.1, 3.0]" in answer.json()["error"]["message"]
    answer = robot.http.put(f"{robot.url}/api/params/panel/mode", json="sideways", timeout=5)
    assert answer.status_code == 422
    answer = robot.http.put(f"{robot.url}/api/params/panel/alarms", json=0, timeout=5)
    assert answer.status_code == 422
    assert "read-only" in answer.json()["error"]["message"]
    # the page cannot go past the range either: the robot keeps its value
    page.evaluate(
        """() => { const s = document.querySelector('[data-name="/panel/threshold"] input');
                   s.max = "5"; s.value = "4"; s.dispatchEvent(new Event("change")); }"""
    )
    expect(page.locator(f"{THRESHOLD} .rw-status")).to_have_text("refused")
    expect(page.locator(f"{THRESHOLD} .rw-error")).to_contain_text("expects a value in [0.1, 3.0]")
    expect(page.locator(f"{THRESHOLD} .rw-readout")).to_have_text("0.50")
    assert robot.param("panel/threshold") == 0.5


def test_the_pad_of_the_panel_drives(page: Page, robot: Robot) -> None:
    x0 = robot.x()
    page.locator('.rw-pad [data-dir="forward"]').hover()
    page.mouse.down()
    wait_for(lambda: robot.x() > x0 + 0.1, timeout=15)
    expect(page.locator(".rw-teleop-state")).to_have_text("driving")
    page.mouse.up()
    wait_for(robot.still, timeout=5)
    expect(page.locator(".rw-teleop-state")).to_have_text("idle")
