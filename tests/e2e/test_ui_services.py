"""The Services tab: forms generated from the request types, responses shown."""

from __future__ import annotations

import json

from e2e_helpers import START, Robot, goto
from playwright.sync_api import Page, expect

from helpers import wait_for


def test_reset_form_puts_the_robot_back_at_its_start(page: Page, robot: Robot, server: str) -> None:
    robot.drive_away(0.3)
    goto(page, server, "services")
    page.locator('#services-list [data-service="/reset"]').click()
    expect(page.locator("#service-type")).to_have_text("std_srvs/Trigger")
    expect(page.locator("#service-fields")).to_contain_text("no fields")
    page.locator("#service-call").click()
    response = page.locator("#service-response")
    expect(response).to_have_attribute("data-state", "ok")
    assert json.loads(response.inner_text())["success"] is True
    wait_for(lambda: abs(robot.x() - START[0]) < 1e-3 and abs(robot.y() - START[1]) < 1e-3)


def test_setbool_form_turns_the_headlights_on(page: Page, robot: Robot, server: str) -> None:
    goto(page, server, "services/robot/headlights")
    expect(page.locator("#service-type")).to_have_text("std_srvs/SetBool")
    page.locator("#service-fields input[type=checkbox]").check()
    page.locator("#service-call").click()
    expect(page.locator("#service-response")).to_contain_text("headlights on")
    assert robot.param("robot/headlights") is True
