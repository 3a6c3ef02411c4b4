"""The Watch tab: the camera (MJPEG) follows the robot, and the pose, battery and rates (the
server's count) show."""

from __future__ import annotations

import io
import re

from e2e_helpers import Robot, goto
from PIL import Image, ImageChops, ImageStat
from playwright.sync_api import Page, expect

from helpers import wait_for


def camera_frame(page: Page, key: str = "watch") -> Image.Image:
    """What the camera element shows, in grey, without the speed read-out at its bottom."""
    png = page.locator(f"[data-camera={key}] img").screenshot()
    image = Image.open(io.BytesIO(png)).convert("L")
    return image.crop((0, 0, image.width, int(image.height * 0.7)))


def difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two pictures, in grey levels (0..255)."""
    return float(ImageStat.Stat(ImageChops.difference(a, b)).mean[0])


def test_camera_shows_frames_that_change_as_the_robot_turns(
    page: Page, robot: Robot, server: str
) -> None:
    # this test reads the MJPEG <img>; the camera's WebRTC is tested in test_ui_video.py
    page.add_init_script("localStorage.setItem('rosweb.camera.transport', 'mjpeg')")
    goto(page, server, "watch")
    camera = page.locator("[data-camera=watch]")
    expect(camera).to_have_attribute("data-state", "live")
    img = camera.locator("img")
    assert "/stream/camera/image_raw.mjpg" in (img.get_attribute("src") or "")
    wait_for(lambda: img.evaluate("el => el.naturalWidth") > 0)
    before = camera_frame(page)
    assert ImageStat.Stat(before).stddev[0] > 10  # a picture, not a blank
    still = difference(before, camera_frame(page))  # the robot has not moved

    theta0 = robot.theta()

    def turned() -> bool:  # (driving keys belong to the Drive tab: turn over REST)
        robot.send("POST", "teleop", {"command": "left", "speed": 1.0})
        return robot.theta() > theta0 + 0.6

    wait_for(turned, timeout=20, interval=0.1)
    robot.send("POST", "teleop", {"command": "stop"})
    wait_for(robot.still)
    threshold = max(4 * still, 8.0)
    wait_for(lambda: difference(before, camera_frame(page)) > threshold, timeout=10)
    expect(page.locator("[data-camera=watch] [data-camera-overlay]")).to_be_hidden()


def test_watch_shows_pose_battery_connection_and_rates(
    page: Page, robot: Robot, server: str
) -> None:
    goto(page, server, "watch")
    expect(page.locator("#battery-percent")).to_have_text(re.compile(r"^\d+%$"))
    expect(page.locator("[data-odom=x]")).to_have_text("2.000 m")
    expect(page.locator("[data-odom=y]")).to_have_text("3.000 m")
    expect(page.locator("#link-rtt")).to_have_text(re.compile(r"ms$"))
    for topic in ("/odom", "/scan", "/battery", "/tf", "camera"):
        cell = page.locator(f'#watch-rates [data-rate="{topic}"]')
        expect(cell).to_have_text(re.compile(r"^\d+(\.\d)? Hz$"), timeout=15_000)
    odom_rate = float(page.locator('#watch-rates [data-rate="/odom"]').inner_text().split()[0])
    assert odom_rate > 10  # the sim publishes /odom at 50 Hz
    expect(page.locator("[data-camera=watch] ~ .card-footer [data-rate=camera]")).to_have_text(
        re.compile(r"fps$")
    )
    scan_points = page.locator("[data-map=watch]").get_attribute("data-scan-points")
    assert int(scan_points or 0) > 100  # the room's walls, in the world frame
