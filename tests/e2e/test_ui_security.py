"""The page with authentication on: log in and out, who is logged in, who drives (the control
lease), the e-stop latched on the robot for every page, and a viewer who may watch but not drive.

The server (``rosweb run``, its own process) has four users: alice and bob (operators), carol (a
viewer) and dave (an admin); ``robot`` acts over REST with an admin token. Each browser context is
one person; each logs in once per module (the server allows 10 logins a minute), later contexts
reuse their login cookie.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest
import requests
from e2e_helpers import ARTIFACTS, DESKTOP, PHONE, PageProblems, Robot, open_page, serve_rosweb
from playwright.sync_api import Browser, Page, expect

from helpers import wait_for
from rosweb.web.auth import hash_password, hash_token

FAR = 0.2  # m: further than one command without repetition could take the robot
SLOW = 20.0  # s
ROBOT_TOKEN = "e2e-robot-token"
USERS = {
    "alice": "operator",
    "bob": "operator",
    "carol": "viewer",
    "dave": "admin",
}


EXPECTED = re.compile(r"Failed to load resource: the server responded with a status of (401|409)")


def password(user: str) -> str:
    return f"{user}-secret"


@pytest.fixture(scope="module")
def auth_server() -> Iterator[str]:
    users: dict[str, dict[str, object]] = {
        name: {"role": role, "password": hash_password(password(name))}
        for name, role in USERS.items()
    }
    users["robot"] = {"role": "admin", "tokens": [hash_token(ROBOT_TOKEN)]}
    settings = {
        "ROSWEB_USERS": json.dumps(users),
        "ROSWEB_SECRET_KEY": "e2e-not-a-secret",
        "ROSWEB_CONTROL_TTL": "30",
    }
    with serve_rosweb(settings, "rosweb-auth.log") as url:
        yield url


@pytest.fixture(scope="module")
def auth_robot_session(auth_server: str) -> Iterator[Robot]:
    robot = Robot(auth_server, ROBOT_TOKEN)
    yield robot
    robot.close()


@pytest.fixture
def auth_robot(auth_robot_session: Robot) -> Iterator[Robot]:
    """At the start pose, no e-stop, nobody driving (and left that way)."""
    auth_robot_session.reset()
    yield auth_robot_session
    auth_robot_session.reset()


@pytest.fixture(scope="module")
def cookies(auth_server: str) -> dict[str, dict[str, str]]:
    """Each user's login cookie, logged in once (over REST, as the login form would)."""
    jar: dict[str, dict[str, str]] = {}
    for user in USERS:
        response = requests.post(
            f"{auth_server}/login", json={"user": user, "password": password(user)}, timeout=10
        )
        response.raise_for_status()
        jar[user] = {"name": "session", "value": response.cookies["session"]}
    return jar


class People:
    """Browser contexts, one per person, closed at the end; their pages must not throw."""

    def __init__(self, browser: Browser, server: str, cookies: dict[str, dict[str, str]]):
        self.browser = browser
        self.server = server
        self.cookies = cookies
        self.opened: list[tuple[Page, PageProblems]] = []

    def open(
        self, user: str | None = None, tab: str = "drive", viewport: dict[str, int] = DESKTOP
    ) -> Page:
        page, problems = open_page(self.browser, self.server, viewport)
        self.opened.append((page, problems))
        if user is not None:
            cookie = self.cookies[user]
            page.context.add_cookies([{**cookie, "url": self.server}])
            page.goto(f"{self.server}/#{tab}")
            page.wait_for_selector("#connection[data-state=open]")
            expect(page.locator("#user")).to_have_attribute("data-user", user)
        return page

    def close(self) -> None:
        errors = []
        for page, problems in self.opened:
            page.context.close()
            # the answers the page expects and shows (a wrong password, a lease held) are no
            # errors of the page, though Chromium logs them
            errors += [e for e in problems.errors if not EXPECTED.search(e)]
            assert not problems.foreign, problems.foreign
        assert not errors, errors


@pytest.fixture
def people(
    browser: Browser, auth_server: str, auth_robot: Robot, cookies: dict[str, dict[str, str]]
) -> Iterator[People]:
    crowd = People(browser, auth_server, cookies)
    yield crowd
    crowd.close()


def hold(page: Page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()


def assert_refused(robot: Robot, samples: int = 10) -> None:
    """The robot stays still (sampled for about a second)."""
    for _ in range(samples):
        assert robot.still()
        time.sleep(0.1)


def drive_forward(page: Page, robot: Robot) -> None:
    """Hold the pad's forward button until the robot has moved, then let go."""
    x0 = robot.x()
    hold(page, ".pad-forward")
    wait_for(lambda: robot.x() > x0 + FAR, timeout=SLOW)
    page.mouse.up()
    wait_for(robot.still)


# -- tests ----------------------------------------------------------------------------------------


def test_login_page_then_drive_then_logout(people: People, auth_robot: Robot) -> None:
    server = people.server
    page = people.open()
    page.goto(f"{server}/#drive")
    expect(page).to_have_url(re.compile(r"/login\?next="))  # the page needs a login
    page.locator("#login-user").fill("alice")
    page.locator("#login-password").fill("wrong")
    page.locator("#login-submit").click()
    expect(page.locator("#login-error")).to_contain_text("wrong user name or password")
    page.locator("#login-user").fill("alice")
    page.locator("#login-password").fill(password("alice"))
    page.locator("#login-submit").click()
    page.wait_for_selector("#connection[data-state=open]")  # the cookie opened the WebSocket

    expect(page.locator("#user")).to_contain_text("alice")
    expect(page.locator("#user")).to_contain_text("operator")
    expect(page.locator("#lease-text")).to_have_text("Nobody is driving")
    x0 = auth_robot.x()
    hold(page, ".pad-forward")
    wait_for(lambda: auth_robot.x() > x0 + FAR, timeout=SLOW)
    expect(page.locator("#lease-text")).to_have_text("You are driving")
    expect(page.locator("#lease")).to_have_attribute("data-state", "mine")
    page.mouse.up()
    wait_for(auth_robot.still)
    # REST writes carry the tab's client id: the lease is this tab's (alice/tab-...)
    tab = page.evaluate("() => sessionStorage.getItem('rosweb.tab')")
    assert auth_robot.get("control")["holder"] == f"alice/{tab}"

    # Release, then request it again, with the buttons
    page.locator("#lease-release").click()
    expect(page.locator("#lease-text")).to_have_text("Nobody is driving")
    assert auth_robot.get("control")["holder"] is None
    page.locator("#lease-acquire").click()
    expect(page.locator("#lease-text")).to_have_text("You are driving")

    page.locator("#logout").click()
    expect(page).to_have_url(f"{server}/login")
    page.goto(f"{server}/#drive")
    expect(page.locator("#login-user")).to_be_visible()  # logged out for good
    assert auth_robot.get("control")["holder"] is None  # logging out released the lease


def test_another_operator_sees_who_drives_and_is_refused(people: People, auth_robot: Robot) -> None:
    alice = people.open("alice")
    bob = people.open("bob")
    drive_forward(alice, auth_robot)
    expect(alice.locator("#lease-text")).to_have_text("You are driving")
    expect(bob.locator("#lease-text")).to_have_text("alice is driving")
    expect(bob.locator("#lease")).to_have_attribute("data-state", "taken")
    expect(bob.locator("#lease-takeover")).to_be_hidden()  # bob is no admin

    # bob's drive is refused, and he is told why
    hold(bob, ".pad-forward")
    assert_refused(auth_robot)
    bob.mouse.up()
    expect(bob.locator("#drive-hint")).to_contain_text("alice is driving")
    # the server says no too, when the page does not know yet: the WebSocket's status is shown
    bob.evaluate(
        """() => window.rosweb.ros.publish("/cmd_vel", {linear: {x: 0.2, y: 0, z: 0},
             angular: {x: 0, y: 0, z: 0}}, "geometry_msgs/Twist", "rosweb-drive")"""
    )
    expect(bob.locator("#drive-hint")).to_contain_text("ask them")  # the server's words
    assert_refused(auth_robot, samples=3)
    # asking for control: a 409 that names the holder
    bob.locator("#lease-acquire").click()
    expect(bob.locator("#drive-hint")).to_contain_text("alice is driving")
    assert auth_robot.get("control")["user"] == "alice"

    # an admin takes over; alice then sees who drives and cannot drive herself
    dave = people.open("dave")
    expect(dave.locator("#lease-text")).to_have_text("alice is driving")
    dave.locator("#lease-takeover").click()
    expect(dave.locator("#lease-text")).to_have_text("You are driving")
    expect(alice.locator("#lease-text")).to_have_text("dave is driving")
    hold(alice, ".pad-forward")
    assert_refused(auth_robot, samples=5)
    alice.mouse.up()
    expect(alice.locator("#drive-hint")).to_contain_text("dave is driving")
    drive_forward(dave, auth_robot)

    # the Drive tab with the lease shown, to look at
    alice.evaluate("() => window.scrollTo(0, 0)")
    alice.mouse.move(0, DESKTOP["height"] - 1)
    alice.screenshot(path=ARTIFACTS / "drive-lease-1440x900.png")


def test_estop_from_one_page_holds_every_page_until_cleared(
    people: People, auth_robot: Robot
) -> None:
    alice = people.open("alice")
    bob = people.open("bob", tab="watch")
    x0 = auth_robot.x()
    hold(alice, ".pad-forward")
    wait_for(lambda: auth_robot.x() > x0 + FAR, timeout=SLOW)
    bob.locator("#estop").click()  # bob stops alice's driving
    wait_for(auth_robot.still)
    alice.mouse.up()
    for page in (alice, bob):
        expect(page.locator("#estop-banner")).to_be_visible()
        expect(page.locator("#estop-banner")).to_contain_text("by bob")
    assert auth_robot.get("estop")["estop"]["by"] == "bob"
    expect(alice.locator("#drive-state")).to_have_attribute("data-state", "estop")

    # no motion from any page while it holds, nor over REST
    hold(alice, ".pad-forward")
    alice.keyboard.down("ArrowUp")
    assert_refused(auth_robot)
    alice.mouse.up()
    alice.keyboard.up("ArrowUp")
    refused = auth_robot.http.post(
        f"{auth_robot.url}/api/teleop", json={"command": "forward"}, timeout=10
    )
    assert refused.status_code == 409

    # a page opened now shows it too
    dave = people.open("dave")
    expect(dave.locator("#estop-banner")).to_be_visible()

    # the screenshot of the Drive tab with the e-stop held
    alice.evaluate("() => window.scrollTo(0, 0)")
    alice.mouse.move(0, DESKTOP["height"] - 1)
    alice.screenshot(path=ARTIFACTS / "drive-estop-1440x900.png")

    alice.locator("#estop-clear").click()
    for page in (alice, bob, dave):
        expect(page.locator("#estop-banner")).to_be_hidden()
    drive_forward(alice, auth_robot)


def test_viewer_watches_but_cannot_drive(people: People, auth_robot: Robot) -> None:
    carol = people.open("carol")
    expect(carol.locator("#user")).to_contain_text("viewer")
    for button in carol.locator("#pad .pad-btn").all():
        expect(button).to_be_disabled()
    expect(carol.locator("#speed")).to_be_disabled()
    expect(carol.locator("#lease-acquire")).to_be_disabled()
    expect(carol.locator("#drive-hint")).to_contain_text("viewer")
    expect(carol.locator("#drive-hint")).to_contain_text("not drive")
    carol.keyboard.down("ArrowUp")
    assert_refused(auth_robot, samples=5)
    carol.keyboard.up("ArrowUp")

    # a viewer may press the e-stop, not clear it
    carol.locator("#estop").click()
    expect(carol.locator("#estop-banner")).to_be_visible()
    expect(carol.locator("#estop-clear")).to_be_disabled()
    wait_for(lambda: auth_robot.get("estop")["estop"] is not None)
    assert auth_robot.get("estop")["estop"]["by"] == "carol"


def test_user_and_lease_fit_a_phone(people: People, auth_robot: Robot) -> None:
    page = people.open("alice", viewport=PHONE)
    expect(page.locator("#logout")).to_be_visible()
    expect(page.locator("#lease-acquire")).to_be_visible()
    overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
    assert overflow <= 0, f"the page is {overflow} px wider than the phone"
    page.locator("#lease-acquire").click()
    expect(page.locator("#lease-text")).to_have_text("You are driving")
    page.screenshot(path=ARTIFACTS / "drive-lease-390x844.png")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "laptop"])
def test_every_control_a_viewer_cannot_use_is_disabled_with_the_reason(
    people: People, auth_robot: Robot, viewport: dict[str, int]
) -> None:
    carol = people.open("carol", viewport=viewport)
    size = f"{viewport['width']}x{viewport['height']}"
    expect(carol.locator("#lease-acquire")).to_have_attribute(
        "title", re.compile("needs role operator")
    )
    for tab in ("drive", "watch"):
        carol.goto(f"{people.server}/#{tab}")
        goal = carol.locator(f".card:has([data-map={tab}]) [data-map-goal]")
        expect(goal).to_be_disabled()
        expect(goal).to_have_attribute(
            "title", "sending a goal needs role operator (you are viewer)"
        )
    carol.goto(f"{people.server}/#params")
    expect(carol.locator("#params-readonly")).to_contain_text("viewer")
    for el in carol.locator("#params-body .param-input").all():
        expect(el).to_be_disabled()
        expect(el).to_have_attribute("title", re.compile("changing parameters needs role operator"))
    expect(carol.locator("#param-robot-max_linear_speed")).to_have_value("1")  # still read
    carol.screenshot(path=ARTIFACTS / f"viewer-params-{size}.png", full_page=True)
    carol.goto(f"{people.server}/#services/reset")
    expect(carol.locator("#service-call")).to_be_disabled()
    expect(carol.locator("#service-hint")).to_have_text(
        "calling services needs role operator (you are viewer)"
    )
    carol.goto(f"{people.server}/#topics/cmd_vel")
    carol.locator("#publish-section summary").click()
    expect(carol.locator("#publish-submit")).to_be_disabled()
    expect(carol.locator("#publish-hint")).to_contain_text("publishing needs role operator")
    carol.screenshot(path=ARTIFACTS / f"viewer-topics-{size}.png", full_page=True)
    carol.goto(f"{people.server}/#drive")
    expect(carol.locator("#estop-clear")).to_be_hidden()  # no e-stop: no banner
