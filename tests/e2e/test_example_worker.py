"""Example 4, the background worker: jobs queued from the page, run by a worker that drives the
robot through ``rosweb.Client`` against the running app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from e2e_helpers import Robot
from example_helpers import checked_page, serve_example
from playwright.sync_api import Browser, Page, expect

from helpers import wait_for

DASH = "\u2013"  # what a live value shows before its first message


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with serve_example("worker") as url:
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
    with checked_page(browser, app_url) as (page, _problems):
        page.goto(app_url)
        yield page


def test_a_job_from_the_page_drives_the_robot_through_the_client(page: Page, robot: Robot) -> None:
    x = page.locator('[data-rw-widget=value][data-field="pose.pose.position.x"] .rw-value-text')
    expect(x).to_have_text("2.000")  # the start pose, live from /odom
    page.locator("[data-job=patrol]").click()
    expect(page.locator("#state")).to_have_text("running patrol")
    wait_for(lambda: robot.x() > 2.1, timeout=10)  # forward...
    expect(page.locator("#done")).to_have_text("1", timeout=15_000)  # ... and back
    expect(page.locator("#state")).to_have_text("idle")
    last = robot.http.get(f"{robot.url}/jobs", timeout=5).json()["last"]
    assert last["job"] == "patrol"
    assert "error" not in last
    wait_for(robot.still, timeout=5)
    assert abs(robot.x() - 2.0) < 0.1  # back where it started
    expect(x).not_to_have_text(DASH)


def test_jobs_queue_is_bounded_and_unknown_jobs_are_refused(robot: Robot, app_url: str) -> None:
    assert robot.http.post(f"{app_url}/jobs/dance", timeout=5).status_code == 404
    answers = [robot.http.post(f"{app_url}/jobs/spin", timeout=5).status_code for _ in range(12)]
    assert answers.count(202) >= 8
    assert 503 in answers  # at most 8 wait
    robot.send("POST", "estop")  # the e-stop stops the worker's drive too: its jobs fail
    done = robot.http.get(f"{app_url}/jobs", timeout=5).json()["done"]
    wait_for(lambda: robot.http.get(f"{app_url}/jobs", timeout=5).json()["done"] > done + 2,
             timeout=20)  # fmt: skip
    last = robot.http.get(f"{app_url}/jobs", timeout=5).json()["last"]
    assert "e-stop" in last["error"]
    robot.send("DELETE", "estop")
    wait_for(lambda: robot.http.get(f"{app_url}/jobs", timeout=5).json()["state"] == "idle",
             timeout=60)  # fmt: skip
