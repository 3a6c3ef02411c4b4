"""What a rosboard or Foxglove user expects, on the simulated robot, at a phone's and a laptop's
size (a screenshot of each in tests/e2e/artifacts/): the plot panel, the log, diagnostics, TF and
the map with a goal, the node graph, keys only on the Drive tab, the system's theme, the layout
remembered; and the WebSocket traffic of the Watch tab (no raw image on it)."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_helpers import ARTIFACTS, DESKTOP, PHONE, Robot, goto, open_page
from playwright.sync_api import Browser, Page, expect

from helpers import wait_for

VIEWPORTS = [PHONE, DESKTOP]


@pytest.fixture(params=VIEWPORTS, ids=["phone", "laptop"])
def view(request: pytest.FixtureRequest, browser: Browser, server: str, robot: Robot
         ) -> Iterator[Page]:  # fmt: skip
    """A fresh page at each size; no page errors, nothing fetched elsewhere."""
    page, problems = open_page(browser, server, request.param)
    yield page
    page.context.close()
    assert not problems.errors, problems.errors
    assert not problems.foreign, problems.foreign


def shot(page: Page, name: str) -> None:
    size = page.viewport_size or DESKTOP
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=ARTIFACTS / f"{name}-{size['width']}x{size['height']}.png", full_page=True)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
    assert overflow <= 0, f"{name} is {overflow} px wider than the screen"


# -- the WebSocket's traffic --------------------------------------------------------------------


def test_watch_tab_websocket_carries_no_image(page: Page, robot: Robot, server: str) -> None:
    """Watch open, camera playing over MJPEG: what the page receives on its WebSocket."""
    frames: list[tuple[float, str]] = []
    sent: list[str] = []

    def on_socket(ws: Any) -> None:
        ws.on(
            "framereceived",
            lambda f: frames.append(
                (time.monotonic(), f if isinstance(f, str) else f.decode(errors="replace"))
            ),
        )
        ws.on("framesent", lambda f: sent.append(f if isinstance(f, str) else repr(f)))

    page.on("websocket", on_socket)
    goto(page, server, "watch")
    expect(page.locator("[data-camera=watch]")).to_have_attribute("data-state", "live")
    img = page.locator("[data-camera=watch] img")
    wait_for(lambda: img.evaluate("el => el.naturalWidth") > 0)
    page.wait_for_timeout(2000)  # settled: every subscription made
    start = time.monotonic()
    page.wait_for_timeout(5000)  # (Playwright delivers the frame events while it waits)
    window = [text for t, text in frames if t >= start]
    seconds = time.monotonic() - start
    rate = sum(len(text.encode()) for text in window) / seconds
    topics: dict[str, int] = {}
    for text in window:
        frame = json.loads(text)
        if frame.get("op") == "publish":
            topics[frame["topic"]] = topics.get(frame["topic"], 0) + len(text.encode())
    summary = ", ".join(f"{t} {n / seconds / 1024:.1f} kB/s" for t, n in sorted(topics.items()))
    (ARTIFACTS / "watch-websocket.txt").write_text(
        f"WebSocket received {rate / 1024:.1f} kB/s over {seconds:.1f} s: {summary}\n"
    )
    print(f"\nWatch tab WebSocket: {rate / 1024:.1f} kB/s ({summary})")
    assert "/camera/image_raw" not in topics
    assert not [f for f in sent if '"subscribe"' in f and "camera" in f]
    assert not any('"sensor_msgs/Image"' in text for text in window)
    assert "/odom" in topics
    assert rate < 150 * 1024  # odometry, scan, TF and battery; a camera frame alone is 300 kB


# -- plot panel ---------------------------------------------------------------------------------


def test_plot_keeps_series_of_several_topics_in_the_background(
    view: Page, robot: Robot, server: str
) -> None:
    page = view
    goto(page, server, "topics/odom")
    page.locator("#plot-field").select_option("pose.pose.position.x")
    page.locator("#plot-add").click()
    goto(page, server, "topics/cmd_vel")
    robot.send("POST", "teleop", {"command": "forward"})  # a message: the page learns its fields
    page.locator("#plot-field").select_option("linear.x")
    page.locator("#plot-add").click()
    goto(page, server, "drive")  # away from the plot: it keeps recording
    x0 = robot.x()

    def driven() -> bool:
        robot.send("POST", "teleop", {"command": "forward"})
        return robot.x() > x0 + 0.2

    wait_for(driven, timeout=20)
    robot.send("POST", "teleop", {"command": "stop"})
    goto(page, server, "plot")
    plot = page.locator("#plot")
    expect(page.locator("#plot-series li")).to_have_count(2)
    expect(plot.locator(".u-legend")).to_contain_text("/cmd_vel linear.x")
    wait_for(lambda: int(plot.get_attribute("data-points") or 0) > 40)
    x = page.evaluate("() => window.rosweb.plot.series[0].v.filter(v => v !== null)")
    assert max(x) - min(x) > 0.15  # recorded while the Drive tab was open
    cmd = page.evaluate("() => window.rosweb.plot.series[1].v.filter(v => v !== null)")
    assert max(cmd) > 0.2  # the teleop commands, on the same time axis
    # sensible axes: the y range hugs the data (time labels: seconds before now, 80 px apart)
    y_min, y_max = page.evaluate("() => [window.rosweb.plot.chart.scales.y.min, "
                                 "window.rosweb.plot.chart.scales.y.max]")  # fmt: skip
    low, high = min(x + cmd), max(x + cmd)
    assert y_min <= low
    assert y_max >= high
    assert y_max - y_min < 1.3 * (high - low)  # not 0..100
    shot(page, "plot")

    page.locator("#plot-pause").click()
    frozen = plot.get_attribute("data-points")
    time.sleep(1)
    assert plot.get_attribute("data-points") == frozen  # paused view
    with page.expect_download() as download:
        page.locator("#plot-csv").click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text())))
    assert rows[0] == ["time", "/odom pose.pose.position.x", "/cmd_vel linear.x"]
    assert len(rows) > 40
    assert float(rows[-1][0]) > time.time() - 60
    page.locator("#plot-pause").click()

    page.reload()  # the layout is remembered by this browser
    goto(page, server, "plot")
    expect(page.locator("#plot-series li")).to_have_count(2)
    page.locator('#plot-series button[aria-label="remove /cmd_vel linear.x"]').click()
    expect(page.locator("#plot-series li")).to_have_count(1)


def test_a_constant_series_sits_mid_axis(page: Page, robot: Robot, server: str) -> None:
    goto(page, server, "topics/odom")
    page.locator("#plot-field").select_option("pose.pose.position.z")  # always 0
    page.locator("#plot-add").click()
    goto(page, server, "plot")
    wait_for(lambda: int(page.locator("#plot").get_attribute("data-points") or 0) > 5)
    time.sleep(0.5)
    y = page.evaluate("() => [window.rosweb.plot.chart.scales.y.min, "
                      "window.rosweb.plot.chart.scales.y.max]")  # fmt: skip
    assert y == [-1, 1]


# -- log and diagnostics ------------------------------------------------------------------------


def test_log_shows_the_robot_and_rosweb_with_filters(view: Page, robot: Robot, server: str) -> None:
    page = view
    goto(page, server, "log")
    rows = page.locator("#log-rows tr")
    expect(page.locator("#tab-log")).to_have_attribute("data-polled", "true")
    before = rows.filter(has_text="e-stop engaged by anonymous").count()  # the server's history
    cleared = rows.filter(has_text="e-stop cleared").count()
    # the page follows /rosout over its WebSocket: a line logged before it subscribes is not
    # the page's (under a loaded machine the REST poll can come first)
    wait_for(lambda: robot.send("GET", "health")["feeds"].get("/rosout", {}).get("consumers"))
    robot.send("POST", "services/reset", {})  # the sim logs it on /rosout
    robot.send("POST", "estop")  # rosweb logs it
    robot.send("DELETE", "estop")
    expect(rows.filter(has_text="reset to the start pose")).to_have_count(1)
    expect(rows.filter(has_text="e-stop engaged by anonymous")).to_have_count(before + 1)
    expect(rows.filter(has_text="e-stop engaged").first.locator("td").nth(2)).to_have_text("rosweb")
    wait_for(lambda: rows.filter(has_text="pose x").count() > 0, timeout=10)  # debug lines
    page.locator("#log-level").select_option("info")
    expect(rows.filter(has_text="pose x")).to_have_count(0)
    page.locator("#log-node").select_option("/sim_robot")
    expect(rows.filter(has_text="e-stop")).to_have_count(0)
    expect(rows.filter(has_text="reset to the start")).to_have_count(1)
    page.locator("#log-node").select_option("")
    page.locator("#log-search").fill("E-STOP CLEARED")
    expect(rows).to_have_count(cleared + 1)  # the search ignores case
    shot(page, "log")
    page.reload()  # the filters are remembered
    expect(page.locator("#log-search")).to_have_value("E-STOP CLEARED")
    expect(page.locator("#log-level")).to_have_value("info")
    page.locator("#log-search").fill("")
    page.locator("#log-level").select_option("debug")


def test_diagnostics_table_per_component(view: Page, robot: Robot, server: str) -> None:
    page = view
    goto(page, server, "diagnostics")
    rows = page.locator("#diag-rows tr[data-component]")
    expect(rows).to_have_count(4)
    for name in ("battery", "drive", "laser", "camera"):
        row = page.locator(f'#diag-rows tr[data-component="sim_robot: {name}"]')
        expect(row).to_have_attribute("data-level", "OK")
        expect(row.locator(".badge")).to_have_class(re.compile("text-bg-success"))

    # drive into the box ahead: the drive component turns amber
    def bump() -> bool:
        robot.send("POST", "topics/cmd_vel", {"linear": {"x": 1.0}})
        row = page.locator('#diag-rows tr[data-component="sim_robot: drive"]')
        return row.get_attribute("data-level") == "WARN"

    wait_for(bump, timeout=25, interval=0.1)
    robot.send("POST", "teleop", {"command": "stop"})
    drive = page.locator('#diag-rows tr[data-component="sim_robot: drive"]')
    expect(drive.locator(".badge")).to_have_class(re.compile("text-bg-warning"))
    expect(drive).to_contain_text("stopped by a wall")
    page.locator('#diag-rows button:has-text("sim_robot: battery")').click()
    expect(page.locator("#diag-rows .diag-values")).to_contain_text("percentage")
    shot(page, "diagnostics")


# -- the map: TF, the occupancy grid, a goal -----------------------------------------------------


def test_map_shows_tf_and_the_grid_and_sends_a_goal(view: Page, robot: Robot, server: str) -> None:
    page = view
    goto(page, server, "watch")
    canvas = page.locator("[data-map=watch]")
    expect(canvas).to_have_attribute("data-frames", "base_link base_scan camera map odom")
    expect(canvas).to_have_attribute("data-grid-cells", "6300")
    page.locator(".card:has([data-map=watch]) [data-map-goal]").click()
    expect(canvas).to_have_attribute("data-goal-mode", "true")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    # the world point under a pixel, from the map's own projection
    view_ = page.evaluate("() => window.rosweb.maps.watch._view")
    dpr = page.evaluate("() => devicePixelRatio")

    def pixel(x: float, y: float) -> tuple[float, float]:
        sx = (view_["width"] / 2 + (x - view_["cx"]) * view_["scale"]) / dpr
        sy = (view_["height"] / 2 - (y - view_["cy"]) * view_["scale"]) / dpr
        return box["x"] + sx, box["y"] + sy

    page.mouse.move(*pixel(4.5, 1.0))
    page.mouse.down()
    page.mouse.move(*pixel(4.5, 2.0), steps=5)  # drag up: heading +90 degrees
    page.mouse.up()
    expect(page.locator("#toasts")).to_contain_text("Goal sent to /move_base_simple/goal")
    goal = robot.get("topics/move_base_simple/goal")["msg"]
    assert goal["header"]["frame_id"] == "odom"
    assert abs(goal["pose"]["position"]["x"] - 4.5) < 0.1
    assert abs(goal["pose"]["position"]["y"] - 1.0) < 0.1
    assert abs(goal["pose"]["orientation"]["z"] - 0.7071) < 0.05  # yaw 90 degrees
    log = robot.get("topics/rosout")["msg"]["msg"]
    assert log.startswith("goal received: x 4.5")  # the sim robot got it
    page.evaluate("() => window.scrollTo(0, 0)")
    shot(page, "map-goal")


def test_the_goal_is_refused_while_the_estop_is_engaged(
    page: Page, robot: Robot, server: str
) -> None:
    goto(page, server, "watch")
    page.locator("#estop").click()
    expect(page.locator("#estop-banner")).to_be_visible()
    page.evaluate("() => window.rosweb.maps.watch.onGoal({x: 1, y: 1, theta: 0, frame: 'odom'})")
    expect(page.locator("#toasts")).to_contain_text("e-stop is engaged")


# -- the node graph -----------------------------------------------------------------------------


def test_graph_shows_who_publishes_and_subscribes(view: Page, robot: Robot, server: str) -> None:
    page = view
    goto(page, server, "graph")
    svg = page.locator("#graph-view svg")
    expect(svg.locator('.graph-node[data-node="/sim_robot"]')).to_be_visible()
    expect(svg.locator('.graph-topic[data-topic="/odom"]')).to_have_count(1)
    odom = svg.locator('.graph-edge[data-topic="/odom"][data-kind="pub"]')
    expect(odom).to_have_attribute("data-node", "/sim_robot")
    cmd = svg.locator('.graph-edge[data-topic="/cmd_vel"][data-kind="sub"][data-node="/sim_robot"]')
    expect(cmd).to_have_count(1)
    svg.locator('.graph-node[data-node="/sim_robot"]').click()
    expect(svg.locator(".graph-edge.dim").first).to_be_attached()
    shot(page, "graph")
    page.locator("#graph-hide-rosweb").check()
    expect(svg.locator('.graph-node[data-node="/rosweb"]')).to_have_count(0)


# -- keys, theme, fold --------------------------------------------------------------------------


def test_keys_drive_only_on_the_drive_tab_and_never_in_a_form(
    page: Page, robot: Robot, server: str
) -> None:
    goto(page, server, "watch")
    page.keyboard.down("ArrowUp")
    time.sleep(0.8)
    page.keyboard.up("ArrowUp")
    assert robot.still()
    assert robot.x() == pytest.approx(2.0, abs=1e-3)
    goto(page, server, "drive")
    page.locator("#speed").focus()
    page.keyboard.press("Tab")  # focus out of the slider, still on the Drive tab
    page.evaluate("() => document.activeElement.blur()")
    page.keyboard.down("w")
    wait_for(lambda: robot.x() > 2.05, timeout=10)
    page.keyboard.up("w")
    wait_for(robot.still)
    goto(page, server, "topics")
    page.locator("#topics-filter").type("wasd")  # typing never drives
    x = robot.x()
    time.sleep(0.5)
    assert robot.x() == pytest.approx(x, abs=1e-3)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_theme_follows_the_system(browser: Browser, server: str, robot: Robot, scheme: str
                                      ) -> None:  # fmt: skip
    context = browser.new_context(viewport=DESKTOP, color_scheme=scheme)  # type: ignore[arg-type]
    page = context.new_page()
    try:
        goto(page, server, "watch")
        expect(page.locator("html")).to_have_attribute("data-bs-theme", scheme)
        background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        light = sum(int(c) for c in re.findall(r"\d+", background)[:3]) > 600
        assert light == (scheme == "light")
        expect(page.locator("[data-camera=watch]")).to_have_attribute("data-state", "live")
        page.screenshot(path=ARTIFACTS / f"theme-{scheme}-1440x900.png", full_page=True)
    finally:
        context.close()


def test_the_drive_tab_fits_a_laptop_screen(page: Page, robot: Robot, server: str) -> None:
    goto(page, server, "drive")
    footer = page.locator(".card:has([data-map=drive]) .card-footer")
    expect(footer).to_be_visible()
    box = footer.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= 900  # above the fold at 1440x900
