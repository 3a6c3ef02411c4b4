"""What the browser tests share: the robot over REST, opening pages, Chromium's settings."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from playwright.sync_api import Browser, ConsoleMessage, Page

from helpers import free_port, wait_for

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
START = (2.0, 3.0)  # the sim robot's start pose


@contextmanager
def serve_rosweb(settings: Mapping[str, str], log_name: str) -> Iterator[str]:
    """``rosweb run`` on the simulated robot on a free loopback port, with ``settings``
    (``ROSWEB_*`` environment variables) and its log in the artifacts; yields its URL."""
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROSWEB_")}
    env.update(settings)
    rosweb = Path(sys.executable).with_name("rosweb")
    with (ARTIFACTS / log_name).open("w") as log:
        proc = subprocess.Popen(
            [str(rosweb), "run", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, f"rosweb run exited: see tests/e2e/artifacts/{log_name}"
        try:
            return requests.get(f"{url}/api/", timeout=1).ok
        except requests.ConnectionError:
            return False

    try:
        wait_for(up, timeout=30, interval=0.1)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


class Robot:
    """The running server, seen over its REST API (with an API ``token`` when auth is on)."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url
        self.http = requests.Session()
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.http.get(f"{self.url}/api/{path}", timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def send(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, f"{self.url}/api/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json() if response.content else None

    def odom(self) -> dict[str, Any]:
        msg: dict[str, Any] = self.get("topics/odom")["msg"]
        return msg

    def x(self) -> float:
        return float(self.odom()["pose"]["pose"]["position"]["x"])

    def y(self) -> float:
        return float(self.odom()["pose"]["pose"]["position"]["y"])

    def theta(self) -> float:
        q = self.odom()["pose"]["pose"]["orientation"]
        return math.atan2(
            2 * (q["w"] * q["z"] + q["x"] * q["y"]), 1 - 2 * (q["y"] ** 2 + q["z"] ** 2)
        )

    def twist(self) -> tuple[float, float]:
        twist = self.odom()["twist"]["twist"]
        return float(twist["linear"]["x"]), float(twist["angular"]["z"])

    def still(self) -> bool:
        """The robot reports no motion and teleop holds no motion command."""
        return self.twist() == (0.0, 0.0) and not self.get("teleop")["moving"]

    def deadman_stops(self) -> int:
        return int(self.get("health")["teleop"]["deadman_stops"])

    def param(self, name: str) -> Any:
        return self.get(f"params/{name}")

    def drive_away(self, distance: float = 0.3) -> None:
        """Drive forward over REST until the robot is ``distance`` from the start."""
        start = self.x()

        def moved() -> bool:
            self.send("POST", "teleop", {"command": "forward", "speed": 1.0})
            return self.x() > start + distance

        wait_for(moved, timeout=20, interval=0.1)
        self.send("POST", "teleop", {"command": "stop"})

    def reset(self) -> None:
        """Stopped at the start pose, every parameter at its default, no e-stop, nobody holding
        the control lease (as an admin: with authentication off everyone is one)."""
        self.send("DELETE", "estop")
        self.send("DELETE", "control?force=true")
        self.send("POST", "teleop", {"command": "stop"})
        for name, meta in self.get("params")["meta"].items():
            if "default" in meta:
                self.send("PUT", f"params/{name.lstrip('/')}", meta["default"])
        self.send("POST", "services/reset", {})
        wait_for(self.still, timeout=10)


class PageProblems:
    """What a page must not do: throw, log errors, or fetch anything from another origin."""

    def __init__(self, page: Page, origin: str) -> None:
        self.errors: list[str] = []
        self.foreign: list[str] = []
        page.on("pageerror", lambda err: self.errors.append(f"page error: {err}"))
        page.on("console", self._console)
        page.on("request", lambda r: self._request(r.url, origin))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def _request(self, url: str, origin: str) -> None:
        if not url.startswith((origin, "ws" + origin.removeprefix("http"), "data:")):
            self.foreign.append(url)


def open_page(browser: Browser, server: str, viewport: dict[str, int]) -> tuple[Page, PageProblems]:
    phone = viewport["width"] < 600
    context = browser.new_context(viewport=viewport, has_touch=phone, is_mobile=phone)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page, PageProblems(page, server)


def goto(page: Page, server: str, tab: str) -> None:
    """Open the UI on a tab (``drive``, ``topics/odom``, ...) and wait for the WebSocket."""
    page.goto(f"{server}/#{tab}")
    page.wait_for_selector("#connection[data-state=open]")
