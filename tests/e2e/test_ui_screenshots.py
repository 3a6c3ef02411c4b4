"""Every tab at a phone's and a laptop's size: fits the width, and a screenshot to look at
(tests/e2e/artifacts/<tab>-<width>x<height>.png)."""

from __future__ import annotations

import pytest
from e2e_helpers import ARTIFACTS, DESKTOP, PHONE, Robot, goto, open_page
from playwright.sync_api import Browser, Page, expect

from helpers import wait_for

TABS = ["drive", "watch", "topics", "plot", "log", "diagnostics", "graph", "services", "params"]


def drive_an_arc(page: Page, robot: Robot) -> None:
    """Forward, then forward and left: a path on the map."""
    x0, theta0 = robot.x(), robot.theta()
    page.keyboard.down("ArrowUp")
    wait_for(lambda: robot.x() > x0 + 0.6, timeout=20)
    page.keyboard.down("a")
    wait_for(lambda: robot.theta() > theta0 + 1.2, timeout=20)
    page.keyboard.up("a")
    page.keyboard.up("ArrowUp")
    wait_for(robot.still)


def prepare(page: Page, robot: Robot, tab: str) -> None:
    """Bring the tab to a state worth looking at."""
    if tab == "drive":
        expect(page.locator("[data-camera=drive]")).to_have_attribute("data-state", "live")
        drive_an_arc(page, robot)
        expect(
            page.locator("[data-camera=drive] ~ .card-footer [data-rate=camera]")
        ).to_contain_text("fps")
    elif tab == "watch":
        expect(page.locator("[data-camera=watch]")).to_have_attribute("data-state", "live")
        for cell in page.locator("#watch-rates [data-rate]").all():
            expect(cell).to_contain_text("Hz", timeout=15_000)
        footer = page.locator("[data-camera=watch] ~ .card-footer [data-rate=camera]")
        expect(footer).to_contain_text("fps")
    elif tab == "topics":
        page.locator('#topics-list [data-topic="/odom"]').click()
        page.locator("#plot-field").select_option("pose.pose.position.x")
        page.locator("#plot-add").click()
        page.locator('#topic-message summary:has-text("pose")').first.click()
        for name in ("/odom", "/scan", "/battery", "/tf", "/diagnostics"):
            badge = page.locator(f'#topics-list [data-rate-of="{name}"]')
            expect(badge).to_contain_text("Hz", timeout=15_000)
    elif tab == "plot":
        wait_for(lambda: int(page.locator("#plot").get_attribute("data-points") or 0) > 30)
    elif tab == "log":
        robot.send("POST", "services/reset", {})
        expect(page.locator("#log-rows tr").first).to_be_visible()
    elif tab == "diagnostics":
        expect(page.locator("#diag-rows tr[data-component]")).to_have_count(4)
    elif tab == "graph":
        expect(page.locator("#graph-view svg .graph-edge").first).to_be_attached()
    elif tab == "services":
        page.locator('#services-list [data-service="/robot/headlights"]').click()
        page.locator("#service-call").click()
        expect(page.locator("#service-response")).to_have_attribute("data-state", "ok")
    page.evaluate("() => window.scrollTo(0, 0)")
    page.mouse.move(0, page.viewport_size["height"] - 1 if page.viewport_size else 0)  # no hover


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "laptop"])
def test_every_tab_fits_and_is_screenshotted(
    browser: Browser, robot: Robot, server: str, viewport: dict[str, int]
) -> None:
    page, problems = open_page(browser, server, viewport)
    try:
        for tab in TABS:
            goto(page, server, tab)
            prepare(page, robot, tab)
            overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
            assert overflow <= 0, f"{tab} is {overflow} px wider than the screen"
            name = f"{tab}-{viewport['width']}x{viewport['height']}.png"
            page.screenshot(path=ARTIFACTS / name, full_page=True)
    finally:
        page.context.close()
    assert not problems.errors, problems.errors
    assert not problems.foreign, problems.foreign
