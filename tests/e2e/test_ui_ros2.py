"""The UI on a ROS 2 robot: ``rosweb run --backend ros2://`` and the ROS 2 sim (``rosweb sim
--ros2``, with the router) in Chromium. Type names come as ``pkg/msg/Name``, times as ``{sec,
nanosec}``, the log as rcl_interfaces/msg/Log, goals go to Nav2's /goal_pose."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from e2e_helpers import ARTIFACTS, DESKTOP, Robot, goto, open_page, serve_rosweb
from playwright.sync_api import Browser, Page, expect

from helpers import free_port, wait_for


@pytest.fixture(scope="module")
def ros2_server() -> Iterator[str]:
    port = free_port()
    sim = subprocess.Popen(
        [sys.executable, "-m", "rosweb.cli", "sim", "--ros2",
         "--url", f"ros2://127.0.0.1:{port}?router=embedded"],
        env={k: v for k, v in os.environ.items() if not k.startswith("ROSWEB_")},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert sim.stdout is not None
        assert "ROS 2 node /robot" in sim.stdout.readline()
        settings = {"ROSWEB_BACKEND": f"ros2://127.0.0.1:{port}"}
        with serve_rosweb(settings, "rosweb-ros2.log") as url:
            robot = Robot(url)
            # discovery over Zenoh under the full suite's load (a browser and servers on two
            # cores) once took longer than 30 s
            wait_for(lambda: "/rosout" in {t["name"] for t in robot.get("topics")["topics"]},
                     timeout=60)  # fmt: skip
            robot.close()
            yield url
    finally:
        os.killpg(sim.pid, signal.SIGINT)
        sim.communicate(timeout=15)  # and closes its pipe


@pytest.fixture
def ros2_page(browser: Browser, ros2_server: str) -> Iterator[Page]:
    page, problems = open_page(browser, ros2_server, DESKTOP)
    yield page
    page.context.close()
    assert not problems.errors, problems.errors
    assert not problems.foreign, problems.foreign


def test_the_log_shows_the_ros2_robot(ros2_page: Page, ros2_server: str) -> None:
    page = ros2_page
    goto(page, ros2_server, "log")
    expect(page.locator("#log-source")).to_have_text("/rosout and rosweb")
    rows = page.locator("#log-rows tr").filter(has_text="reset to the start pose")
    robot = Robot(ros2_server)
    try:

        def reset_shows() -> bool:
            # the sim logs each reset on /rosout; the page's subscription reaches the ROS 2
            # publisher a moment after the page shows its source (Zenoh routes it): a reset
            # before that is not received, so reset until one shows
            robot.send("POST", "services/reset", {})
            page.wait_for_timeout(500)
            return rows.count() > 0

        wait_for(reset_shows, timeout=20)
    finally:
        robot.close()
    row = rows.first
    expect(row.locator("td").nth(1)).to_have_text("info")  # level 20 is info
    expect(row.locator("td").nth(2)).to_have_text("robot")  # the node's logger name
    page.screenshot(path=str(ARTIFACTS / "ros2-log.png"))


def test_diagnostics_and_the_map_of_the_ros2_robot(ros2_page: Page, ros2_server: str) -> None:
    page = ros2_page
    goto(page, ros2_server, "diagnostics")
    expect(page.locator("#diag-rows tr[data-component]")).to_have_count(4)
    goto(page, ros2_server, "watch")
    canvas = page.locator("[data-map=watch]")
    expect(canvas).to_have_attribute("data-frames", "base_link base_scan camera map odom")
    expect(canvas).to_have_attribute("data-grid-cells", "6300")  # a latched (transient) map
    page.evaluate("() => window.rosweb.maps.watch.onGoal({x: 1, y: 1, theta: 0, frame: 'odom'})")
    expect(page.locator("#toasts")).to_contain_text("Goal sent to /goal_pose")
    robot = Robot(ros2_server)
    try:
        wait_for(lambda: robot.get("topics/rosout")["msg"]["msg"].startswith("goal received"),
                 timeout=10)  # fmt: skip
    finally:
        robot.close()
    page.screenshot(path=str(ARTIFACTS / "ros2-watch.png"))
