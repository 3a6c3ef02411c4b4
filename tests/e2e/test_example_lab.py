"""Example 3, the lab page shared by several people: two browsers logged in as two users, one
driving, one waiting for the control lease, shown and requested from the page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from e2e_helpers import ARTIFACTS, Robot
from example_helpers import checked_page, serve_example
from playwright.sync_api import Browser, Page, expect

from helpers import wait_for

USERS = "alice:alice,bob:bob,root:root:admin"


@pytest.fixture(scope="module")
def app_url() -> Iterator[str]:
    with serve_example("lab", {"LAB_USERS": USERS}) as url:
        yield url


@pytest.fixture
def robot(app_url: str) -> Iterator[Robot]:
    """The robot over REST as the admin root (a login session, with its CSRF token)."""
    robot = Robot(app_url)
    login = robot.http.post(f"{app_url}/login", json={"user": "root", "password": "root"},
                            timeout=10)  # fmt: skip
    login.raise_for_status()
    robot.http.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    robot.reset()
    yield robot
    robot.reset()
    robot.close()


def log_in(page: Page, url: str, user: str) -> None:
    page.goto(url)
    expect(page).to_have_url(re.compile(r"/login\?next=/"))  # the page needs a login
    page.fill("#login-user", user)
    page.fill("#login-password", user)
    page.click("#login-submit")
    expect(page.locator("#me")).to_have_text(user)
    expect(page.locator("[data-rw-widget=lease]")).to_have_attribute("data-rw-bound", "1")


def hold(page: Page, selector: str) -> None:
    page.locator(selector).hover()
    page.mouse.down()


FORWARD = '.rw-pad [data-dir="forward"]'


@pytest.fixture
def people(browser: Browser, app_url: str, robot: Robot) -> Iterator[tuple[Page, Page]]:
    with (
        checked_page(browser, app_url, refusals=True) as (alice, _a),
        checked_page(browser, app_url, refusals=True) as (bob, _b),
    ):
        log_in(alice, app_url, "alice")
        log_in(bob, app_url, "bob")
        yield alice, bob


def test_one_drives_the_other_waits_for_the_lease(people: tuple[Page, Page], robot: Robot) -> None:
    alice, bob = people
    expect(alice.locator(".rw-lease-text")).to_have_text("Nobody is driving")
    alice.locator(".rw-lease-acquire").click()
    expect(alice.locator(".rw-lease-text")).to_have_text("You are driving")
    expect(bob.locator(".rw-lease-text")).to_have_text("alice is driving")
    expect(bob.locator(".rw-teleop-hint")).to_contain_text("alice is driving")
    assert robot.get("control")["user"] == "alice"

    x0 = robot.x()
    hold(alice, FORWARD)
    wait_for(lambda: robot.x() > x0 + 0.1, timeout=15)
    alice.mouse.up()
    wait_for(robot.still, timeout=5)

    # bob waits: his pad is refused, and asking for control says who has it and how it frees
    x1 = robot.x()
    hold(bob, FORWARD)
    bob.wait_for_timeout(600)
    bob.mouse.up()
    assert abs(robot.x() - x1) < 0.01
    bob.locator(".rw-lease-acquire").click()
    message = bob.locator(".rw-lease-message")
    expect(message).to_contain_text("alice is driving")
    expect(message).to_contain_text("DELETE /api/control")
    bob.screenshot(path=str(ARTIFACTS / "example-lab-waiting.png"))

    # alice is done: she releases, bob takes over and drives
    alice.locator(".rw-lease-release").click()
    expect(bob.locator(".rw-lease-text")).to_have_text("Nobody is driving")
    bob.locator(".rw-lease-acquire").click()
    expect(bob.locator(".rw-lease-text")).to_have_text("You are driving")
    expect(alice.locator(".rw-lease-text")).to_have_text("bob is driving")
    x2 = robot.x()
    hold(bob, FORWARD)
    wait_for(lambda: robot.x() > x2 + 0.1, timeout=15)
    bob.mouse.up()
    wait_for(robot.still, timeout=5)
    assert robot.get("control")["user"] == "bob"


def test_the_estop_of_one_holds_everyone(people: tuple[Page, Page], robot: Robot) -> None:
    alice, bob = people
    bob.locator(".rw-estop-button").click()
    expect(alice.locator("[data-rw-widget=estop]")).to_have_attribute("data-state", "engaged")
    expect(alice.locator(".rw-estop-text")).to_contain_text("by bob")
    x0 = robot.x()
    hold(alice, FORWARD)
    alice.wait_for_timeout(600)
    alice.mouse.up()
    assert abs(robot.x() - x0) < 0.01
    expect(alice.locator(".rw-teleop-hint")).to_contain_text("e-stop")
    alice.locator(".rw-estop-clear").click()
    expect(bob.locator("[data-rw-widget=estop]")).to_have_attribute("data-state", "clear")


def test_log_out(people: tuple[Page, Page], app_url: str) -> None:
    alice, _bob = people
    alice.locator("#logout").click()
    expect(alice).to_have_url(f"{app_url}/login")
    alice.goto(app_url)
    expect(alice).to_have_url(re.compile(r"/login\?next=/"))
