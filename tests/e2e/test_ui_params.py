"""The Parameters tab: controls from the Jinja macros, bound to GET/PUT /api/params."""

from __future__ import annotations

from e2e_helpers import Robot, goto
from playwright.sync_api import Page, expect

from helpers import wait_for

SPEED = '[data-param="/robot/max_linear_speed"]'


def test_slider_sets_the_speed_limit_and_the_robot_obeys(
    page: Page, robot: Robot, server: str
) -> None:
    goto(page, server, "params")
    slider = page.locator(f"{SPEED} input[type=range]")
    expect(slider).to_have_attribute("max", "2.0")  # the range comes from the robot's metadata
    slider.focus()
    page.keyboard.press("Home")  # 0.0
    page.keyboard.press("ArrowRight")  # 0.05
    page.keyboard.press("ArrowRight")  # 0.1
    wait_for(lambda: robot.param("robot/max_linear_speed") == 0.1)
    expect(page.locator(f"{SPEED} .param-readout")).to_have_text("0.10")
    expect(page.locator(f"{SPEED} .param-status")).to_have_text("saved")

    # the page asks for 0.15 m/s; the robot keeps to 0.1
    goto(page, server, "drive")
    expect(page.locator("#speed-detail")).to_contain_text("0.15 m/s")
    x0 = robot.x()
    page.keyboard.down("ArrowUp")
    speeds: list[float] = []

    def travelled() -> bool:
        speeds.append(robot.twist()[0])
        return robot.x() > x0 + 0.15

    wait_for(travelled, timeout=30)
    page.keyboard.up("ArrowUp")
    wait_for(robot.still)
    assert max(speeds) <= 0.1 + 1e-9
    assert max(speeds) > 0.09  # it does drive, at its limit


def test_switch_and_outside_changes(page: Page, robot: Robot, server: str) -> None:
    goto(page, server, "params")
    switch = page.locator('[data-param="/robot/headlights"] input[type=checkbox]')
    expect(switch).not_to_be_checked()
    switch.check()
    wait_for(lambda: robot.param("robot/headlights") is True)
    # a change made elsewhere shows up
    robot.send("PUT", "params/robot/headlights", False)
    expect(switch).not_to_be_checked()
    robot.send("PUT", "params/robot/scan_rate", 20)
    expect(page.locator('[data-param="/robot/scan_rate"] .param-readout')).to_have_text("20")
    # Reload renders the controls on the server again (new parameters, new metadata)
    page.locator("#params-reload").click()
    expect(page.locator("#params-body [data-param]")).to_have_count(5)
    switch = page.locator('[data-param="/robot/headlights"] input[type=checkbox]')
    switch.check()
    wait_for(lambda: robot.param("robot/headlights") is True)
