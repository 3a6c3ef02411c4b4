"""The fleet page in a real browser: two simulated robots on a real mosquitto, one fleet server.

A card per robot (online, battery, pose, camera thumbnail, who drives); a click opens the usual
tabs for that robot, whose Drive pad moves that robot only; STOP ALL latches every robot's e-stop.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_helpers import ARTIFACTS, DESKTOP, open_page
from playwright.sync_api import Browser, expect

from helpers import wait_for
from mqtt_helpers import Mosquitto, RosWebProcess, moved, pose

SLOW = 20.0


@pytest.fixture(scope="module")
def fleet(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RosWebProcess, dict[str, RosWebProcess]]]:
    directory = tmp_path_factory.mktemp("fleet-ui")
    ARTIFACTS.mkdir(exist_ok=True)
    broker = Mosquitto(directory / "broker").start()
    topics = '["/odom@10", "/battery@1", "/scan@2", "/camera/image_raw@2"]'
    robots = {
        name: RosWebProcess(
            ["--fleet", broker.url(robot=name)],
            ARTIFACTS / f"fleet-{name}.log",
            env={"ROSWEB_FLEET_TOPICS": topics},
        )
        for name in ("alpha", "bravo")
    }
    server = RosWebProcess(["--backend", broker.url()], ARTIFACTS / "fleet-server.log")
    for robot in robots.values():
        robot.start(wait=False)
    server.start()
    try:
        for robot in robots.values():
            wait_for(robot.is_up, timeout=30)
        wait_for(
            lambda: (
                sum(
                    r["online"] and bool(r["battery"])
                    for r in server.get("/api/robots").json()["robots"]
                )
                == 2
            ),
            timeout=SLOW,
        )
        yield server, robots
    finally:
        server.stop()
        for robot in robots.values():
            robot.stop()
        broker.kill()


def test_fleet_page_cards_drive_one_robot_and_stop_all(
    browser: Browser, fleet: tuple[RosWebProcess, dict[str, RosWebProcess]]
) -> None:
    server, robots = fleet
    page, problems = open_page(browser, server.url, DESKTOP)
    try:
        page.goto(server.url + "/fleet")
        cards = page.locator("[data-robot]")
        expect(cards).to_have_count(2)
        for name in robots:
            card = page.locator(f"[data-robot={name}]")
            expect(card.locator("[data-field=online]")).to_have_text("online")
            wait_for(
                lambda card=card: card.locator("[data-field=battery]").inner_text().endswith("%"),
                timeout=SLOW,
            )
            wait_for(lambda card=card: "," in card.locator("[data-field=pose]").inner_text())
            wait_for(
                lambda card=card: (
                    card.locator("[data-field=thumb]").evaluate("img => img.naturalWidth") == 160
                ),
                timeout=SLOW,
            )
        expect(page.locator("#fleet-summary")).to_have_text("2 of 2 online")
        page.screenshot(path=str(ARTIFACTS / "fleet-1440x900.png"))

        page.locator("[data-robot=alpha]").click()  # the usual tabs, for alpha
        page.wait_for_url("**/robots/alpha/")
        page.wait_for_selector("#connection[data-state=open]")
        page.locator("a[data-tab=drive]").click()
        wait_for(
            lambda: page.locator("[data-map=drive]").get_attribute("data-x") not in (None, "NaN"),
            timeout=SLOW,
        )
        before = {name: pose(robot) for name, robot in robots.items()}
        box = page.locator(".pad-forward").bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        wait_for(lambda: moved(before["alpha"], pose(robots["alpha"])) > 0.2, timeout=SLOW)
        page.mouse.up()
        assert moved(before["bravo"], pose(robots["bravo"])) < 0.01
        page.screenshot(path=str(ARTIFACTS / "fleet-robot-drive-1440x900.png"))

        page.goto(server.url + "/fleet")
        alpha = page.locator("[data-robot=alpha]")
        expect(alpha.locator("[data-field=driver]")).to_have_text("anonymous", timeout=10_000)
        page.locator("#fleet-estop").click()
        expect(page.locator("#fleet-estop-banner")).to_be_visible()
        for robot in robots.values():
            wait_for(lambda robot=robot: robot.get("/api/control").json()["estop"], timeout=10)
        expect(alpha.locator("[data-field=online]")).to_have_text("e-stop", timeout=10_000)
        page.locator("#fleet-estop-clear").click()
        expect(page.locator("#fleet-estop-banner")).to_be_hidden()
        for robot in robots.values():
            wait_for(
                lambda robot=robot: robot.get("/api/control").json()["estop"] is None, timeout=10
            )
    finally:
        page.context.close()
    assert not problems.foreign, problems.foreign
    assert not problems.errors, problems.errors
