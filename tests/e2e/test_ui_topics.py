"""The Topics tab: topics with types and rates, a message live, a plot, a form that publishes."""

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
    # the camera is measured from its headers at one message a second: still about its real rate
    camera_rate = page.locator('#topics-list [data-rate-of="/camera/image_raw"]')
    expect(camera_rate).to_have_text(re.compile(r"^\d+(\.\d)? Hz$"), timeout=15_000)
    assert float(camera_rate.inner_text().split()[0]) > 2


def test_topic_message_is_live_and_a_field_plot_gets_points(
    page: Page, robot: Robot, server: str
) -> None:
    goto(page, server, "topics")
    page.locator('#topics-list [data-topic="/odom"]').click()
    expect(page).to_have_url(re.compile(r"#topics/odom$"))
    expect(page.locator("#topic-type")).to_have_text("nav_msgs/Odometry")
    message = page.locator("#topic-message")
    expect(message).to_contain_text('"child_frame_id": "base_link"')
    seq = re.compile(r'"seq": (\d+)')
    first = int(seq.findall(message.inner_text())[0])
    wait_for(lambda: int(seq.findall(message.inner_text())[0]) > first)  # live

    page.locator("#plot-field").select_option("pose.pose.position.x")
    page.locator("#plot-add").click()
    plot = page.locator("#plot")
    expect(plot.locator("canvas")).to_be_visible()
    wait_for(lambda: int(plot.get_attribute("data-points") or 0) > 20, timeout=15)
    expect(plot.locator(".u-legend")).to_contain_text("pose.pose.position.x")


def test_big_messages_are_abridged(page: Page, robot: Robot, server: str) -> None:
    goto(page, server, "topics/camera/image_raw")
    message = page.locator("#topic-message")
    expect(message).to_contain_text('"encoding": "rgb8"')
    expect(message).to_contain_text("characters)")  # the base64 pixels, shortened
    assert len(message.inner_text()) < 5000


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
