"""The hub: one backend subscription per topic, shared JSON, bounded drop-oldest queues."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from helpers import wait_for
from rosweb.graph.sim import Bus
from rosweb.hub import Hub


@pytest.fixture
def bus() -> Iterator[Bus]:
    bus = Bus()
    yield bus
    bus.close()


def subscribers(bus: Bus, topic: str) -> int:
    entry = bus._topics.get(topic)
    return len(entry.subscribers) if entry else 0


def test_many_consumers_share_one_backend_subscription_and_one_json(bus: Bus) -> None:
    hub = Hub(bus)
    consumers = [hub.consume("/chatter", "std_msgs/String", queue_length=5) for _ in range(10)]
    assert subscribers(bus, "/chatter") == 1
    bus.publish("/chatter", "std_msgs/String", {"data": "hi"})
    envelopes = [c.get(timeout=1) for c in consumers]
    assert all(e is envelopes[0] for e in envelopes)
    texts = {id(e.json) for e in envelopes if e is not None}
    assert len(texts) == 1
    assert envelopes[0] is not None
    assert envelopes[0].json == '{"data":"hi"}'
    for c in consumers:
        c.close()
    assert subscribers(bus, "/chatter") == 0


def test_slow_consumer_keeps_the_newest_messages(bus: Bus) -> None:
    hub = Hub(bus)
    slow = hub.consume("/count", "std_msgs/Int32", queue_length=3)
    fast = hub.consume("/count", "std_msgs/Int32", queue_length=100)
    for i in range(10):
        bus.publish("/count", "std_msgs/Int32", {"data": i})
    assert [e.msg["data"] for e in slow.drain()] == [7, 8, 9]
    assert slow.dropped == 7
    assert [e.msg["data"] for e in fast.drain()] == list(range(10))
    assert fast.dropped == 0


def test_throttle_rate_limits_delivery(bus: Bus) -> None:
    hub = Hub(bus)
    throttled = hub.consume("/fast", "std_msgs/Int32", queue_length=100, throttle_rate=10_000)
    for i in range(20):
        bus.publish("/fast", "std_msgs/Int32", {"data": i})
    assert [e.msg["data"] for e in throttled.drain()] == [0]


def test_latest_waits_for_a_first_message_and_keeps_caching(bus: Bus) -> None:
    hub = Hub(bus)
    bus.advertise("/status", "std_msgs/String")
    assert hub.latest("/status", timeout=0.05) is None
    bus.publish("/status", "std_msgs/String", {"data": "ok"})
    envelope = hub.latest("/status")
    assert envelope is not None
    assert envelope.msg == {"data": "ok"}
    assert hub.feeds()["/status"]["cached"] is True


def test_notify_is_called_for_each_delivery(bus: Bus) -> None:
    hub = Hub(bus)
    woken: list[str] = []
    consumer = hub.consume("/ping", "std_msgs/Empty", notify=lambda c: woken.append(c.topic))
    bus.publish("/ping", "std_msgs/Empty", {})
    bus.publish("/ping", "std_msgs/Empty", {})
    assert woken == ["/ping", "/ping"]
    consumer.close()


def test_nan_reaches_json_as_null(bus: Bus) -> None:
    hub = Hub(bus)
    consumer = hub.consume("/range", "std_msgs/Float64")
    bus.publish("/range", "std_msgs/Float64", {"data": float("inf")})
    envelope = consumer.get(timeout=1)
    assert envelope is not None
    assert envelope.json == '{"data":null}'


def test_close_wakes_waiting_consumers(bus: Bus) -> None:
    hub = Hub(bus)
    consumer = hub.consume("/quiet", "std_msgs/Empty")
    hub.close()
    assert consumer.get(timeout=5) is None
    assert subscribers(bus, "/quiet") == 0


def test_cache_only_subscriptions_expire_when_unread(bus: Bus) -> None:
    hub = Hub(bus, cache_ttl=0.2)
    bus.advertise("/camera", "std_msgs/String")
    hub.latest("/camera", timeout=0)
    assert subscribers(bus, "/camera") == 1
    assert hub.expire() == []
    consumer = hub.consume("/camera")
    time.sleep(0.3)
    assert hub.expire() == []  # a live consumer keeps it
    consumer.close()
    assert subscribers(bus, "/camera") == 0  # closed past the ttl: nothing keeps it any more
    hub.latest("/camera", timeout=0)
    assert subscribers(bus, "/camera") == 1
    wait_for(lambda: subscribers(bus, "/camera") == 0, timeout=2)  # the sweeper expired it
    assert "/camera" not in hub.feeds()
    hub.close()


def test_matching_topics_are_cached_for_good_even_after_their_publisher_left(bus: Bus) -> None:
    hub = Hub(bus, cache_topics=["/status*", "/camera"], scan_interval=0.05)
    status = bus.advertise("/status", "std_msgs/String")
    bus.advertise("/camera", "sensor_msgs/Image")  # heavy: only cached when asked for
    bus.advertise("/other", "std_msgs/String")  # not matched
    wait_for(lambda: subscribers(bus, "/status") == 1)
    bus.publish("/status", "std_msgs/String", {"data": "ready"})
    status.close()
    assert hub.cached("/status")
    envelope = hub.latest("/status")
    assert envelope is not None
    assert envelope.msg == {"data": "ready"}
    assert hub.expire() == []  # pinned: never expires
    assert subscribers(bus, "/camera") == 0
    assert subscribers(bus, "/other") == 0
    hub.close()
