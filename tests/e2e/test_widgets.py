"""The widgets in your own page (``{% from "rosweb/macros.html" import ... %}``), next to the
Params tab of rosweb's own UI: a property shown and changed by both, every macro working, one
WebSocket per page, and with authentication on the page's session for every request."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from e2e_helpers import ARTIFACTS, Robot
from example_helpers import checked_page
from flask import Flask, render_template
from playwright.sync_api import Browser, Page, expect

from helpers import wait_for
from rosweb.graph import connect
from rosweb.server import Server
from rosweb.server.handlers import tornado_handlers
from rosweb.web import RosWeb
from rosweb.web.auth import hash_password, hash_token
from rosweb.web.ui import register_ui

DASH = "\u2013"  # what a live value shows before its first message
GAIN = '[data-name="/app/gain"][data-kind="slider"]'


class HostApp:
    def __init__(self, config: dict[str, Any]) -> None:
        self.graph = connect("sim://")
        app = Flask("host", template_folder=str(Path(__file__).parent / "widget_app" / "templates"))
        app.config.update(ROSWEB_ESTOP_FILE="", **config)
        self.values: dict[str, Any] = {"gain": 2.0, "name": "rover", "mode": "auto"}
        rw = RosWeb(app, graph=self.graph)
        register_ui(app)  # rosweb's own page at /, with its Params tab
        v = self.values
        rw.property("/app/gain", lambda: v["gain"], lambda x: v.__setitem__("gain", x),
                    min=0.0, max=5.0, step=0.5, unit="dB", description="the amplifier")  # fmt: skip
        rw.property("/app/name", lambda: v["name"], lambda x: v.__setitem__("name", x), type=str)
        rw.property("/app/mode", lambda: v["mode"], lambda x: v.__setitem__("mode", x), type=str,
                    choices=["auto", "manual"])  # fmt: skip

        @app.get("/widgets")
        def widgets() -> str:
            return render_template("widgets.html")

        self.app = app
        self.server = Server(app, "127.0.0.1", 0, threads=16, handlers=tornado_handlers(app))
        self.server.start()
        self.url = self.server.url

    def close(self) -> None:
        self.server.stop()
        RosWeb.close(self.app)
        self.graph.close()


@pytest.fixture(scope="module")
def host() -> Iterator[HostApp]:
    app = HostApp({})
    yield app
    app.close()


@pytest.fixture
def robot(host: HostApp) -> Iterator[Robot]:
    robot = Robot(host.url)
    robot.reset()
    host.values.update(gain=2.0, name="rover", mode="auto")
    yield robot
    robot.reset()
    robot.close()


@pytest.fixture
def open_page(browser: Browser, host: HostApp, robot: Robot) -> Iterator[Callable[[str], Page]]:
    pages: list[Any] = []

    def open_(path: str) -> Page:
        manager = checked_page(browser, host.url, refusals=True)
        page, _problems = manager.__enter__()
        pages.append(manager)
        page.goto(host.url + path)
        return page

    yield open_
    for manager in pages:
        manager.__exit__(None, None, None)


def test_a_property_in_the_params_tab_and_in_your_own_page(
    open_page: Callable[[str], Page], host: HostApp, robot: Robot
) -> None:
    tab = open_page("/#params")
    control = tab.locator('#params-body [data-param="/app/gain"]')
    expect(control.locator("input[type=range]")).to_have_attribute("max", "5.0")
    expect(control.locator(".param-readout")).to_have_text("2.0")
    control.locator("input[type=range]").focus()
    tab.keyboard.press("ArrowRight")  # one step: 2.5
    wait_for(lambda: host.values["gain"] == 2.5)

    mine = open_page("/widgets")
    slider = mine.locator(f"{GAIN} input[type=range]")
    expect(slider).to_have_attribute("step", "0.5")
    expect(mine.locator(f"{GAIN} .rw-readout")).to_have_text("2.5")  # what the tab set
    slider.focus()
    mine.keyboard.press("ArrowRight")
    wait_for(lambda: host.values["gain"] == 3.0)
    expect(control.locator(".param-readout")).to_have_text("3.0")  # the tab sees it within 2 s
    # typed out of range: refused with the server's reason, the field returns to the value
    typed = mine.locator('[data-name="/app/gain"][data-kind="number"]')
    typed.locator("input").fill("7")
    typed.locator(".rw-apply").click()
    expect(typed.locator(".rw-error")).to_contain_text("expects a value in [0.0, 5.0], got 7")
    expect(typed.locator("input")).to_have_value("3")
    assert host.values["gain"] == 3.0
    mine.screenshot(path=str(ARTIFACTS / "widgets.png"), full_page=True)


def test_every_widget_works_on_one_websocket(
    open_page: Callable[[str], Page], host: HostApp, robot: Robot
) -> None:
    sockets: list[str] = []
    page = open_page("/widgets")
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.reload()  # counted from the start of a page
    # text and select properties
    name = page.locator('[data-name="/app/name"]')
    name.locator("input").fill("scout")
    name.locator("input").press("Enter")
    wait_for(lambda: host.values["name"] == "scout")
    page.locator('[data-name="/app/mode"] select').select_option("manual")
    wait_for(lambda: host.values["mode"] == "manual")
    # a missing parameter is said, not a broken page
    expect(page.locator('[data-name="/app/missing"]')).to_contain_text("no param")
    # the camera streams, the live value and the plot follow /odom
    expect(page.locator("[data-rw-widget=camera]")).to_have_attribute("data-state", "live")
    expect(page.locator("[data-rw-widget=value] .rw-value-text")).to_have_text("2.000")
    wait_for(lambda: int(page.locator("[data-rw-widget=plot]").get_attribute("data-points") or 0)
             > 5)  # fmt: skip
    # the service button calls the service (the sim's headlights) and shows the answer
    switch = page.locator('[data-name="/robot/headlights"] input')
    expect(switch).not_to_be_checked()
    page.get_by_role("button", name="Lights on").click()
    expect(page.locator('[data-service="/robot/headlights"] .rw-service-result')).to_contain_text(
        "success"
    )
    assert robot.param("robot/headlights") is True
    expect(switch).to_be_checked()  # the switch follows the change
    page.get_by_role("button", name="Broken").click()
    expect(page.locator('[data-service="/nope"]')).to_have_attribute("data-state", "failed")
    # the teleop pad drives at its speed, the keyboard too
    x0 = robot.x()
    page.locator('.rw-pad [data-dir="forward"]').hover()
    page.mouse.down()
    wait_for(lambda: robot.x() > x0 + 0.05, timeout=10)
    assert 0.0 < robot.twist()[0] <= 0.4 * 0.3 + 1e-6  # 40% of the teleop speed
    page.mouse.up()
    wait_for(robot.still)
    page.locator("h1").click()
    x1 = robot.x()
    page.keyboard.down("ArrowUp")
    wait_for(lambda: robot.x() > x1 + 0.05, timeout=10)
    page.keyboard.up("ArrowUp")
    wait_for(robot.still)
    # the lease: without users, this page and every other client are one operator
    expect(page.locator(".rw-lease-text")).to_have_text(re.compile("You are driving|Nobody"))
    assert requests.post(host.url + "/api/teleop", json={"command": "forward"}, timeout=5).ok
    expect(page.locator(".rw-lease-text")).to_have_text("You are driving")
    assert len(sockets) == 1, sockets  # every widget shares one WebSocket


def test_with_auth_on_the_widgets_act_as_the_logged_in_user(browser: Browser) -> None:
    users = {
        "olga": {"role": "operator", "password": hash_password("olga")},
        "vera": {"role": "viewer", "password": hash_password("vera")},
        "root": {"role": "admin", "tokens": [hash_token("root")]},
    }
    host = HostApp({"ROSWEB_USERS": users})
    robot = Robot(host.url, token="root")
    try:
        for user in ("olga", "vera"):
            with checked_page(browser, host.url, refusals=True) as (page, _problems):
                page.goto(host.url + "/widgets")
                page.fill("#login-user", user)
                page.fill("#login-password", user)
                page.click("#login-submit")
                expect(page).to_have_url(host.url + "/widgets")
                expect(page.locator(GAIN)).to_have_attribute("data-rw-bound", "1")  # scripts ran
                slider = page.locator(f"{GAIN} input[type=range]")
                if user == "vera":  # a viewer sees, but may not change or drive
                    expect(slider).to_be_disabled()
                    expect(page.locator(".rw-teleop-hint")).to_contain_text("can watch")
                    expect(page.locator("[data-rw-widget=value] .rw-value-text")).not_to_have_text(
                        DASH
                    )
                    continue
                slider.focus()  # the session's cookie and CSRF token go with each PUT
                page.keyboard.press("ArrowRight")
                expect(page.locator(f"{GAIN} .rw-status")).to_have_text("saved")
                assert host.values["gain"] == 2.5
                page.locator(".rw-lease-acquire").click()
                expect(page.locator(".rw-lease-text")).to_have_text("You are driving")
                assert robot.get("control")["user"] == "olga"
                page.locator(".rw-lease-release").click()
                expect(page.locator(".rw-lease-text")).to_have_text("Nobody is driving")
        audit = robot.get("control")
        assert audit["holder"] is None
    finally:
        robot.close()
        host.close()
