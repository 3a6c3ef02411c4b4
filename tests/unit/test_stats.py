"""Rates and bandwidth per topic (rosweb.hub.stats): sizes against rosbags' ROS 1 serializer, rates
from messages published at a known pace, the bound on samples."""

from __future__ import annotations

import random
import time

import pytest

from reference import random_message, ros1_serialize
from rosweb.graph.sim import Bus
from rosweb.hub import Hub
from rosweb.hub.stats import TopicStats, wire_size
from rosweb.messages import TypeStore, from_json

TYPES = [
    "nav_msgs/Odometry",
    "sensor_msgs/LaserScan",
    "sensor_msgs/Image",
    "tf2_msgs/TFMessage",
    "diagnostic_msgs/DiagnosticArray",
    "rosgraph_msgs/Log",
    "nav_msgs/OccupancyGrid",
    "sensor_msgs/PointCloud2",
    "std_msgs/String",
]


@pytest.mark.parametrize("type_name", TYPES)
def test_wire_size_is_the_ros1_serialized_size(type_name: str) -> None:
    store = TypeStore()
    rng = random.Random(type_name)
    for _ in range(20):
        msg = from_json(store, type_name, random_message(store, type_name, rng))
        assert wire_size(store, type_name, msg) == len(ros1_serialize(store, type_name, msg))


def test_wire_size_of_an_unknown_type_is_zero() -> None:
    assert wire_size(TypeStore(), "no_msgs/Nothing", {"a": 1}) == 0


def test_rate_bandwidth_and_totals_of_a_topic_published_at_50_hz() -> None:
    stats = TopicStats(TypeStore(), window=2.0)
    msg = {"data": "0123456789"}  # 14 bytes on the wire
    for _ in range(60):
        stats.record("/chatter", "std_msgs/String", msg)
        time.sleep(0.02)
    figures = stats.topic("/chatter")
    assert figures is not None
    assert figures["count"] == 60
    assert figures["bytes"] == 60 * 14
    assert figures["size"] == 14
    assert 25 < figures["rate"] < 55  # 50 Hz at most: sleep() only oversleeps
    assert figures["bandwidth"] == pytest.approx(14 * figures["rate"], rel=0.01)


def test_a_topic_that_went_quiet_reports_no_rate_but_keeps_its_totals() -> None:
    stats = TopicStats(TypeStore(), window=5.0)
    for _ in range(10):
        stats.record("/burst", "std_msgs/String", {"data": ""})
        time.sleep(0.01)
    time.sleep(1.6)
    figures = stats.topic("/burst")
    assert figures is not None
    assert figures["rate"] == 0.0
    assert figures["bandwidth"] == 0.0
    assert figures["count"] == 10


def test_samples_are_bounded() -> None:
    stats = TopicStats(TypeStore(), window=60.0, max_samples=100)
    for _ in range(1000):
        stats.record("/fast", "std_msgs/String", {"data": ""})
    assert len(stats._topics["/fast"].samples) == 100
    assert stats.snapshot()["/fast"]["count"] == 1000


def test_the_hub_counts_every_message_it_receives() -> None:
    bus = Bus()
    hub = Hub(bus)
    try:
        with hub.consume("/chatter", "std_msgs/String", queue_length=100):
            for _ in range(5):
                bus.publish("/chatter", "std_msgs/String", {"data": "abc"})
        figures = hub.stats.topic("/chatter")
        assert figures is not None
        assert figures["count"] == 5
        assert figures["bytes"] == 5 * 7
        assert hub.stats.topic("/elsewhere") is None
    finally:
        hub.close()
        bus.close()
