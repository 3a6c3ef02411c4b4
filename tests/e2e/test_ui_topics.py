"""The Topics tab: topics with types, rates and bandwidth (the server's count), a message live as
a collapsible tree, an image topic as its picture, a LaserScan as a polar view, a field to the
Plot tab, a form that publishes; the open topic is remembered."""

from __future__ import annotations

import re

from e2e_helpers import Robot, goto
from playwright.sync_api import Page, expect

from helpers import wait_for


def test_topics_are_listed_with_types_and_rates(page: Page, robot: Robot, server: str) -> None:
    goto(page, server, "topics")
    topics = robot.get("topics")["topics"]
    for topic in topics:
        item = page.locator(f'#topics-list [data-topic="{topic["name"]}"]')
        expect(item).to_contain_text(topic["type"])
    odom_rate = page.locator('#topics-list [data-rate-of="/odom"]')
    expect(odom_rate).to_have_text(re.compile(r"^\d+ Hz$"), timeout=15_000)
    bandwidth = page.locator('#topics-list [data-bandwidth-of="/odom"]')
    expect(bandwidth).to_have_text(re.compile(r"^\d+(\.\d)? kB/s$"))
    # nobody watches the camera: the server does not receive it, and the page does not either
    # (once an earlier test's viewer is gone: a camera source runs on for its grace, 5 s)
    camera_rate = page.locator('#topics-list [data-rate-of="/camera/image_raw"]')
    expect(camera_rate).to_have_text("idle", timeout=20_000)
    expect(camera_rate).to_have_attribute("title", re.compile("does not receive"))


def test_topic_message_is_live_and_a_field_plot_gets_points(
    page: Page, robot: Robot, server: str
) -> None:
    goto(page, server, "topics")
    page.locator('#topics-list [data-topic="/odom"]').click()
    expect(page).to_have_url(re.compile(r"#topics/odom$"))
    expect(page.locator("#topic-type")).to_have_text("nav_msgs/Odometry")
    message = page.locator("#topic-message")
    expect(message).to_contain_text('child_frame_id: "base_link"')
    expect(message).not_to_contain_text("seq")  # header is a closed branch
    message.locator('summary:has-text("header")').click()
    seq = message.locator('[data-path="header.seq"] .tree-value')
    first = int(seq.inner_text())
    wait_for(lambda: int(seq.inner_text()) > first)  # live, and the branch stays open
    message.locator('summary:has-text("pose")').first.click()
    expect(message.locator('[data-path="pose.pose"]')).to_be_visible()

    page.locator("#plot-field").select_option("pose.pose.position.x")
    page.locator("#plot-add").click()
    goto(page, server, "plot")
    plot = page.locator("#plot")
    expect(plot.locator("canvas")).to_be_visible()
    wait_for(lambda: int(plot.get_attribute("data-points") or 0) > 20, timeout=15)
    expect(plot.locator(".u-legend")).to_contain_text("/odom pose.pose.position.x")
    goto(page, server, "topics")  # the open topic is remembered
    expect(page.locator("#topic-name")).to_have_text("/odom")


def test_an_image_topic_shows_its_picture_not_its_bytes(
    page: Page, robot: Robot, server: str
) -> None:
    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(str(frame))))
    goto(page, server, "topics/camera/image_raw")
    image = page.locator("#topic-image")
    expect(image).to_be_visible()
    assert "/stream/camera/image_raw.mjpg" in (image.get_attribute("src") or "")
    wait_for(lambda: image.evaluate("el => el.naturalWidth") == 640)
    expect(page.locator("#topic-latest")).to_be_hidden()
    stats = page.locator("#topic-stats")
    expect(stats).to_contain_text(re.compile(r"\d+(\.\d)? Hz · \d+(\.\d)? MB/s"), timeout=15_000)
    assert not [f for f in sent if "subscribe" in f and "camera" in f], sent
    goto(page, server, "topics/odom")
    wait_for(lambda: image.get_attribute("src", timeout=1000).startswith("data:"))  # closed


def test_a_laser_scan_is_drawn_around_the_sensor(page: Page, robot: Robot, server: str) -> None:
    goto(page, server, "topics/scan")
    canvas = page.locator("#topic-scan canvas")
    expect(canvas).to_be_visible()
    wait_for(lambda: int(canvas.get_attribute("data-points") or 0) > 300)  # the room's walls
    message = page.locator("#topic-message")
    message.locator('summary:has-text("ranges")').click()
    expect(message).to_contain_text("more")  # 360 ranges, 24 shown


def test_publish_form_generated_from_the_schema(page: Page, robot: Robot, server: str) -> None:
    goto(page, server, "topics/cmd_vel")
    page.locator("#publish-section summary").click()
    form = page.locator("#publish-form")
    expect(form.locator("legend")).to_have_count(2)  # linear, angular: geometry_msgs/Vector3
    x0 = robot.x()
    form.locator("input").first.fill("0.2")  # linear.x
    form.locator("button[type=submit]").click()
    expect(page.locator("#publish-result")).to_contain_text("published")
    wait_for(lambda: robot.x() > x0 + 0.02, timeout=10)  # moves until the deadman stops it
    wait_for(robot.still)
