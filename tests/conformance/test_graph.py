"""What every backend must do, checked through the Graph interface only."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pytest

from helpers import Inbox, wait_for
from rosweb.errors import NotFoundError, ServiceError, ServiceTimeout, TypeMismatchError
from rosweb.graph import Graph
from rosweb.messages import Message, from_json

_ids = itertools.count()


def unique(name: str) -> str:
    return f"/conformance/{name}_{next(_ids)}"


def publish_until_received(
    graph: Graph, topic: str, type_name: str, msg: Message, inbox: Inbox
) -> None:
    """Publish until the subscriber sees one (connection set-up takes time on real middlewares)."""

    def attempt() -> bool:
        graph.publish(topic, type_name, msg)
        time.sleep(0.02)
        return len(inbox) > 0

    wait_for(attempt, timeout=10)


def msg(graph: Graph, type_name: str, value: dict[str, Any]) -> Message:
    return from_json(graph.types, type_name, value)


def named(graph: Graph, type_name: str) -> str:
    """A type's name as the graph reports it (``pkg/Name`` in ROS 1, ``pkg/msg/Name`` in ROS 2)."""
    return graph.types.canonical(type_name)


def header(graph: Graph, secs: int, nsecs: int, frame_id: str) -> dict[str, Any]:
    """A std_msgs/Header in the graph's flavour (ROS 2 has no seq, and stamps {sec, nanosec})."""
    if graph.types.ros2:
        return {"stamp": {"sec": secs, "nanosec": nsecs}, "frame_id": frame_id}
    return {"seq": 3, "stamp": {"secs": secs, "nsecs": nsecs}, "frame_id": frame_id}


def test_published_message_arrives_unchanged(graph: Graph) -> None:
    topic = unique("chatter")
    inbox = Inbox()
    with graph.subscribe(topic, inbox, "std_msgs/String"):
        sent = msg(graph, "std_msgs/String", {"data": "héllo robot"})
        publish_until_received(graph, topic, "std_msgs/String", sent, inbox)
    assert inbox.items[0] == sent


def test_binary_and_nested_fields_survive(graph: Graph) -> None:
    topic = unique("image")
    inbox = Inbox()
    image = msg(
        graph,
        "sensor_msgs/Image",
        {
            "header": header(graph, 12, 345, "cam"),
            "height": 2, "width": 2, "encoding": "mono8", "step": 2,
            "data": bytes([0, 127, 128, 255]),
        },
    )  # fmt: skip
    with graph.subscribe(topic, inbox, "sensor_msgs/Image"):
        publish_until_received(graph, topic, "sensor_msgs/Image", image, inbox)
    got = inbox.items[0]
    assert got["data"] == bytes([0, 127, 128, 255])
    assert got["header"]["stamp"] == header(graph, 12, 345, "cam")["stamp"]
    assert got["header"]["frame_id"] == "cam"


def test_topics_list_names_and_types(graph: Graph) -> None:
    topic = unique("listed")
    with graph.advertise(topic, "geometry_msgs/Twist"):
        wait_for(lambda: graph.topics().get(topic) == named(graph, "geometry_msgs/Twist"))


def test_subscribe_without_type_needs_an_existing_topic(graph: Graph) -> None:
    with pytest.raises(NotFoundError):
        graph.subscribe(unique("nothing_here"), Inbox())


def test_subscribe_without_type_uses_the_topic_type(graph: Graph) -> None:
    topic = unique("typed")
    with graph.advertise(topic, "std_msgs/Int32"):
        wait_for(lambda: topic in graph.topics())
        with graph.subscribe(topic, Inbox()) as handle:
            assert handle.type == named(graph, "std_msgs/Int32")


def test_publishing_another_type_is_refused(graph: Graph) -> None:
    topic = unique("one_type")
    with graph.advertise(topic, "std_msgs/String"):
        wait_for(lambda: topic in graph.topics())
        with pytest.raises(TypeMismatchError):
            graph.publish(topic, "std_msgs/Int32", {"data": 1})


def test_unsubscribed_callback_gets_nothing_more(graph: Graph) -> None:
    topic = unique("stop")
    inbox = Inbox()
    handle = graph.subscribe(topic, inbox, "std_msgs/Int32")
    publish_until_received(graph, topic, "std_msgs/Int32", {"data": 1}, inbox)
    handle.close()
    time.sleep(0.1)
    before = len(inbox)
    for _ in range(5):
        graph.publish(topic, "std_msgs/Int32", {"data": 2})
    time.sleep(0.2)
    assert len(inbox) == before
    assert handle.closed


def test_latched_message_reaches_a_late_subscriber(graph: Graph) -> None:
    topic = unique("latched")
    graph.publish(topic, "std_msgs/String", {"data": "map ready"}, latch=True)
    inbox = Inbox()
    with graph.subscribe(topic, inbox, "std_msgs/String"):
        wait_for(lambda: len(inbox) > 0)
    assert inbox.items[0] == {"data": "map ready"}


def test_service_round_trip(graph: Graph) -> None:
    name = unique("toggle")
    calls: list[Message] = []

    def handler(request: Message) -> Message:
        calls.append(request)
        return {"success": request["data"], "message": "on" if request["data"] else "off"}

    with graph.provide_service(name, "std_srvs/SetBool", handler):
        wait_for(lambda: graph.services().get(name) == named(graph, "std_srvs/SetBool"))
        assert graph.call_service(name, {"data": True}, timeout=5) == {
            "success": True,
            "message": "on",
        }
        assert graph.call_service(name, {"data": False}, timeout=5) == {
            "success": False,
            "message": "off",
        }
    assert calls == [{"data": True}, {"data": False}]
    wait_for(lambda: name not in graph.services())


def test_calling_an_unknown_service_is_not_found(graph: Graph) -> None:
    with pytest.raises(NotFoundError):
        graph.call_service(unique("missing"), {}, timeout=2)


def test_failing_service_handler_is_a_service_error(graph: Graph) -> None:
    name = unique("broken")

    def handler(request: Message) -> Message:
        raise RuntimeError("motor driver not ready")

    with graph.provide_service(name, "std_srvs/Trigger", handler):
        wait_for(lambda: name in graph.services())
        with pytest.raises(ServiceError):
            graph.call_service(name, {}, timeout=5)


def test_slow_service_times_out(graph: Graph) -> None:
    """A call times out on a new connection and on one that answered before (ros1:// keeps
    those timeouts without a thread per call); the service answers again afterwards."""
    name = unique("slow")
    release = threading.Event()
    slow = threading.Event()

    def handler(request: Message) -> Message:
        if slow.is_set():
            release.wait(5)
        return {}

    with graph.provide_service(name, "std_srvs/Empty", handler):
        wait_for(lambda: name in graph.services())
        slow.set()
        started = time.monotonic()
        with pytest.raises(ServiceTimeout):
            graph.call_service(name, {}, timeout=0.3)
        assert time.monotonic() - started < 3
        release.set()
        slow.clear()
        release.clear()
        assert graph.call_service(name, {}, timeout=5) == {}
        assert graph.call_service(name, {}, timeout=5) == {}  # a connection that answered
        slow.set()
        started = time.monotonic()
        with pytest.raises(ServiceTimeout):
            graph.call_service(name, {}, timeout=0.3)
        assert time.monotonic() - started < 3
        release.set()
        slow.clear()
        assert graph.call_service(name, {}, timeout=5) == {}


def test_params_set_get_list_delete(graph: Graph) -> None:
    # ROS 2 parameters live on nodes: there, the namespace is under rosweb's own node
    ns = (
        getattr(graph, "node_name", "") + unique("params") if graph.types.ros2 else unique("params")
    )
    graph.set_param(f"{ns}/speed", 0.5)
    graph.set_param(f"{ns}/name", "rover")
    graph.set_param(f"{ns}/gains", {"p": 1.0, "i": 0.1})
    assert graph.get_param(f"{ns}/speed") == 0.5
    assert graph.get_param(ns) == {"speed": 0.5, "name": "rover", "gains": {"p": 1.0, "i": 0.1}}
    assert {f"{ns}/speed", f"{ns}/name", f"{ns}/gains/p"} <= set(graph.param_names())
    graph.delete_param(f"{ns}/speed")
    with pytest.raises(NotFoundError):
        graph.get_param(f"{ns}/speed")
    with pytest.raises(NotFoundError):
        graph.delete_param(f"{ns}/speed")


def test_nodes_are_global_names(graph: Graph) -> None:
    nodes = graph.nodes()
    assert nodes
    assert all(isinstance(n, str) and n.startswith("/") for n in nodes)


def test_health_is_ok_and_close_is_idempotent(graph: Graph) -> None:
    assert graph.health()["ok"] is True
    graph.close()
    graph.close()
