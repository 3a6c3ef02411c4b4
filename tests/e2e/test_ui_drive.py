"""Driving from the page: pad, keyboard, joystick (mouse and touch); stops on release, on leaving
the page, on a dropped connection; the e-stop.

The sim robot starts at (2, 3) facing +x with 6 m of room ahead. The page drives at 50% of the
teleop speed (0.15 m/s); one motion command lasts 0.5 s (0.075 m), so getting further means the
page repeats its commands while a control is held. When a release stops the robot, the deadman's
stop count does not change: the stop came from the page.
"""

from __future__ import annotations

import time

from e2e_helpers import PHONE, Robot, goto, open_page
from playwright.sync_api import Browser, Page, expect

from helpers import wait_for

FAR = 0.2  # m: further than one command without repetition could take the robot
SLOW = 20.0  # s: generous waits for a loaded machine; they end as soon as the condition holds


def hold(page: Page, selector: str, dx: float = 0.0, dy: float = 0.0) -> None:
    """Press the mouse on the element's centre (offset by dx, dy pixels) and keep it down."""
    box = page.locator(selector).bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2 + dy)
    page.mouse.down()


def view_x(page: Page, key: str = "drive") -> float:
    return float(page.locator(f"[data-map={key}]").get_attribute("data-x") or "nan")


def drive_state(page: Page) -> str | None:
    return page.locator("#drive-state").get_attribute("data-state")


def assert_refused(robot: Robot, samples: int = 10) -> None:
    """The robot stays still while the page is asked to drive (sampled for about a second)."""
    for _ in range(samples):
        assert robot.still()
        time.sleep(0.1)


def test_forward_button_drives_while_held_and_release_stops(
    page: Page, robot: Robot, server: str
) -> None:
    goto(page, server, "drive")
    wait_for(lambda: view_x(page) == view_x(page))  # the pose view has odometry (not NaN)
    x0 = robot.x()
    hold(page, ".pad-forward")
    wait_for(lambda: robot.x() > x0 + FAR, timeout=SLOW)
    wait_for(lambda: view_x(page) > x0 + FAR)  # the pose view follows
    assert drive_state(page) == "driving"
    expect(page.locator(".pad-forward")).to_have_class(
        "btn btn-secondary pad-btn pad-forward active"
    )
    stops = robot.deadman_stops()
    page.mouse.up()
    wait_for(robot.still)
    assert robot.deadman_stops() == stops
    assert drive_state(page) == "idle"
    assert int(page.locator("[data-map=drive]").get_attribute("data-path-points") or 0) > 5


def test_keyboard_drives_turns_and_space_stops(page: Page, robot: Robot, server: str) -> None:
    goto(page, server, "drive")
    x0 = robot.x()
    page.keyboard.down("ArrowUp")
    wait_for(lambda: robot.x() > x0 + FAR, timeout=SLOW)
    stops = robot.deadman_stops()
    page.keyboard.up("ArrowUp")
    wait_for(robot.still)
    assert robot.deadman_stops() == stops

    theta0 = robot.theta()
    page.keyboard.down("d")  # WASD: d turns right, clockwise
    wait_for(lambda: robot.theta() < theta0 - 0.3, timeout=SLOW)
    page.keyboard.up("d")
    wait_for(robot.still)

    page.keyboard.down("w")
    page.keyboard.down("a")  # both: an arc to the left
    wait_for(lambda: robot.twist()[0] > 0 and robot.twist()[1] > 0, timeout=SLOW)
    stops = robot.deadman_stops()
    page.keyboard.press("Space")  # stops, whatever is held
    wait_for(robot.still)
    assert robot.deadman_stops() == stops
    page.keyboard.up("a")
    page.keyboard.up("w")
    assert robot.still()


def test_blur_stops_the_robot(page: Page, robot: Robot, server: str) -> None:
    goto(page, server, "drive")
    # a real blur: the focus leaves the page's window for a frame, as for another window
    page.evaluate(
        """() => new Promise((done) => {
             const frame = document.createElement("iframe");
             frame.id = "elsewhere";
             frame.srcdoc = "<input>";
             frame.onload = done;
             document.body.append(frame);
           })"""
    )
    x0 = robot.x()
    page.keyboard.down("ArrowUp")
    wait_for(lambda: robot.x() > x0 + FAR, timeout=SLOW)
    stops = robot.deadman_stops()
    page.frame_locator("#elsewhere").locator("input").focus()
    wait_for(robot.still)
    assert robot.deadman_stops() == stops
    expect(page.locator("#drive-state")).to_contain_text("blur")
    page.keyboard.up("ArrowUp")


def test_hidden_tab_stops_the_robot(page: Page, robot: Robot, server: str) -> None:
    goto(page, server, "drive")
    x0 = robot.x()
    hold(page, ".pad-forward")
    wait_for(lambda: robot.x() > x0 + FAR, timeout=SLOW)
    stops = robot.deadman_stops()
    # headless Chromium keeps every tab visible: what the browser does when a tab is hidden
    page.evaluate(
        """() => {
             const hidden = {value: "hidden", configurable: true};
             Object.defineProperty(document, "visibilityState", hidden);
             document.dispatchEvent(new Event("visibilitychange"));
           }"""
    )
    wait_for(robot.still)
    assert robot.deadman_stops() == stops
    page.evaluate("() => delete document.visibilityState")
    page.mouse.up()
    assert robot.still()


def test_dropped_connection_stops_the_robot(page: Page, robot: Robot, server: str) -> None:
    goto(page, server, "drive")
    x0 = robot.x()
    hold(page, ".pad-forward")
    wait_for(lambda: robot.x() > x0 + FAR, timeout=SLOW)
    stops = robot.deadman_stops()
    page.evaluate("() => window.rosweb.ros._socket.close()")  # the WebSocket drops
    wait_for(robot.still)  # the page said stop over REST
    assert robot.deadman_stops() == stops
    page.wait_for_selector("#connection[data-state=open]")  # it reconnects by itself...
    assert_refused(robot, samples=3)  # ... and does not drive on by itself
    page.mouse.up()


def test_joystick_drives_and_turns_with_the_mouse(page: Page, robot: Robot, server: str) -> None:
    goto(page, server, "drive")
    box = page.locator("#joystick").bounding_box()
    assert box is not None
    x0 = robot.x()
    hold(page, "#joystick")
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.1, steps=4)
    wait_for(lambda: robot.x() > x0 + FAR, timeout=SLOW)
    knob = page.locator(".joystick-knob").evaluate("el => el.style.transform")
    assert "translate" in knob
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2, steps=4)
    wait_for(lambda: robot.twist()[1] < 0 and robot.twist()[0] == 0, timeout=SLOW)  # turns right
    stops = robot.deadman_stops()
    page.mouse.up()
    wait_for(robot.still)
    assert robot.deadman_stops() == stops


def test_joystick_and_pad_work_by_touch_on_a_phone(
    browser: Browser, robot: Robot, server: str
) -> None:
    page, problems = open_page(browser, server, PHONE)
    try:
        goto(page, server, "drive")
        cdp = page.context.new_cdp_session(page)
        for selector, dy in (("#joystick", -0.4), (".pad-forward", 0.0)):
            locator = page.locator(selector)
            locator.scroll_into_view_if_needed()
            box = locator.bounding_box()
            assert box is not None
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            x0 = robot.x()
            touch = [{"x": cx, "y": cy, "id": 1}]
            cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": touch})
            moved = [{"x": cx, "y": cy + dy * box["height"], "id": 1}]
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": moved})
            wait_for(lambda x0=x0: robot.x() > x0 + FAR, timeout=SLOW)
            stops = robot.deadman_stops()
            cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
            wait_for(robot.still)
            assert robot.deadman_stops() == stops
    finally:
        page.context.close()
    assert not problems.errors, problems.errors


def test_estop_stops_and_refuses_motion_until_cleared(
    page: Page, robot: Robot, server: str
) -> None:
    goto(page, server, "drive")
    x0 = robot.x()
    page.keyboard.down("ArrowUp")
    wait_for(lambda: robot.x() > x0 + FAR, timeout=SLOW)
    page.locator("#estop").click()
    wait_for(robot.still)
    expect(page.locator("#estop-banner")).to_be_visible()
    assert drive_state(page) == "estop"
    page.keyboard.up("ArrowUp")

    # every control is refused while the e-stop holds
    hold(page, ".pad-forward")
    page.keyboard.down("ArrowUp")
    assert_refused(robot)
    page.mouse.up()
    page.keyboard.up("ArrowUp")

    # the latch outlives a reload
    goto(page, server, "watch")
    page.reload()
    page.wait_for_selector("#connection[data-state=open]")
    expect(page.locator("#estop-banner")).to_be_visible()
    page.keyboard.down("ArrowUp")
    assert_refused(robot, samples=3)
    page.keyboard.up("ArrowUp")

    # clearing it is explicit; then driving works again (keys drive on the Drive tab)
    page.locator("#estop-clear").click()
    expect(page.locator("#estop-banner")).to_be_hidden()
    goto(page, server, "drive")
    x1 = robot.x()
    page.keyboard.down("ArrowUp")
    wait_for(lambda: robot.x() > x1 + FAR, timeout=SLOW)
    page.keyboard.up("ArrowUp")
    wait_for(robot.still)


def test_gamepad_stick_drives_and_button_b_stops(page: Page, robot: Robot, server: str) -> None:
    goto(page, server, "drive")
    # headless Chromium has no gamepad: a stand-in as the Gamepad API would show it
    page.evaluate(
        """() => {
             const buttons = Array.from({length: 16}, () => ({pressed: false}));
             const pad = {id: "Test pad (STANDARD GAMEPAD)", index: 0, connected: true,
                          axes: [0, -1, 0, 0], buttons};
             window.testPad = pad;
             navigator.getGamepads = () => [pad];
             const event = new Event("gamepadconnected");
             event.gamepad = pad;
             window.dispatchEvent(event);
           }"""
    )
    expect(page.locator("#gamepad-state")).to_contain_text("Test pad")
    x0 = robot.x()
    wait_for(lambda: robot.x() > x0 + FAR, timeout=SLOW)
    stops = robot.deadman_stops()
    page.evaluate("() => { window.testPad.buttons[1].pressed = true; }")  # B
    wait_for(robot.still)
    assert robot.deadman_stops() == stops
    page.evaluate(
        "() => { window.testPad.axes[1] = 0; window.testPad.buttons[1].pressed = false; }"
    )
    assert_refused(robot, samples=3)
