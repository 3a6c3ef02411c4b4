"""The rosbridge v2 protocol core, as a client sees it: frames in, frames out, no socket.

Each test drives a :class:`BridgeSession` on a bare in-process :class:`Bus` with JSON (or CBOR)
frames and checks what the client would receive, and what the robot side (the bus) sees.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import cbor2
import pytest

from helpers import Inbox, wait_for
from rosweb import config
from rosweb.control import Control
from rosweb.core import Caller, GuardedRobot, Robot
from rosweb.core.bridge import OPS, BridgeOptions, BridgeSession
from rosweb.core.bridge.frames import Frame
from rosweb.core.bridge.rosapi import ROSAPI
from rosweb.errors import NotFoundError, ServiceError, ServiceTimeout
from rosweb.graph.sim import Bus
from rosweb.hub import Hub
from rosweb.messages import Message, from_json, to_ros1
from rosweb.web.auth import hash_token
from rosweb.web.bridge.open import rate_callbacks
from rosweb.web.security import Gate

STRING = "std_msgs/String"
INT32 = "std_msgs/Int32"
TWIST = "geometry_msgs/Twist"
SET_BOOL = "std_srvs/SetBool"


# -- the client side --------------------------------------------------------------------------


def decode_frame(frame: Frame) -> dict[str, Any]:
    """What a client makes of a frame: CBOR bytes or JSON text."""
    message = cbor2.loads(frame) if isinstance(frame, bytes) else json.loads(frame)
    assert isinstance(message, dict), message
    return message


def matches(message: dict[str, Any], fields: dict[str, Any]) -> bool:
    return all(message.get(key) == value for key, value in fields.items())


class Client:
    """One rosbridge client wired straight to a session: send dicts, collect decoded frames."""

    def __init__(self) -> None:
        self.woken = threading.Event()
        self.session: BridgeSession  # set by the ``connect`` fixture

    def wake(self) -> None:
        self.woken.set()

    def send(self, message: dict[str, Any]) -> None:
        self.session.receive(json.dumps(message))

    def frames(self) -> list[Frame]:
        """The raw frames ready to send right now."""
        return self.session.outgoing()

    def messages(self) -> list[dict[str, Any]]:
        """The frames ready to send right now, decoded."""
        return [decode_frame(frame) for frame in self.frames()]

    def collect(
        self, until: Callable[[list[dict[str, Any]]], bool], timeout: float = 3.0
    ) -> list[dict[str, Any]]:
        """Every message received until ``until(received)`` holds (fails after ``timeout``)."""
        received: list[dict[str, Any]] = []

        def done() -> bool:
            received.extend(self.messages())
            return until(received)

        wait_for(done, timeout=timeout, interval=0.005)
        return received

    def expect(self, timeout: float = 3.0, **fields: Any) -> dict[str, Any]:
        """The first message with these fields (others received meanwhile are dropped)."""
        received = self.collect(lambda got: any(matches(m, fields) for m in got), timeout)
        return next(m for m in received if matches(m, fields))

    def status(self) -> dict[str, Any]:
        """The one message ready now, which must be a status error."""
        messages = self.messages()
        assert len(messages) == 1, messages
        (status,) = messages
        assert status["op"] == "status", status
        assert status["level"] == "error", status
        assert "internal error" not in status["msg"], status
        return status


def subscribers(bus: Bus, topic: str) -> int:
    entry = bus._topics.get(topic)
    return len(entry.subscribers) if entry else 0


def set_bool_handler(request: Message) -> Message:
    return {"success": request["data"], "message": "on" if request["data"] else "off"}


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def bus() -> Iterator[Bus]:
    bus = Bus()
    yield bus
    bus.close()


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="test-bridge")
    yield executor
    executor.shutdown(wait=True, cancel_futures=True)


Connect = Callable[..., Client]


@pytest.fixture
def control(bus: Bus) -> Iterator[Control]:
    control = Control(bus, timeout=0.2)
    yield control
    control.close()


@pytest.fixture
def connect(
    bus: Bus, executor: ThreadPoolExecutor, request: pytest.FixtureRequest
) -> Iterator[Connect]:
    """``connect(role="admin", settings={}, **options)``: a new client with its session (closed
    after), acting as a user of that role under those settings, on a Robot of the test's bus.
    Motion goes to the ``control`` fixture's bus if the test uses it, else to a bus of its own
    (the test's bus sees no /cmd_vel publisher)."""
    clients: list[Client] = []
    robots: dict[str, Robot] = {}
    aside = Bus()
    control = (
        request.getfixturevalue("control") if "control" in request.fixturenames else Control(aside)
    )

    def robot_for(settings: dict[str, Any]) -> Robot:
        key = json.dumps(settings, sort_keys=True)
        if key not in robots:
            cfg = config.load({"ROSWEB_CACHE_TOPICS": "", **settings}, environ={})
            robots[key] = Robot(bus, settings=cfg, control=control, owns_graph=False)
        return robots[key]

    request.node.robot_for = robot_for

    def make(
        role: str | None = "admin", settings: dict[str, Any] | None = None, **options: Any
    ) -> Client:
        """``role=None``: a client that connected without credentials."""
        client = Client()
        settings = settings or {}
        robot = robot_for(settings)
        gate = Gate(config.load(settings, environ={}))
        bound = None
        if role is not None:
            bound = robot.bind(Caller(f"{role}-user", role, f"c{len(clients)}", "token"))

        def login(token: str) -> GuardedRobot:
            principal = gate.identify(remote_addr="127.0.0.1", host="x", token=token)
            return robot.bind(principal)

        client.session = BridgeSession(
            bound,
            wake=client.wake,
            executor=executor,
            login=login,
            options=BridgeOptions(**options),
            **rate_callbacks(gate.allowance("ws")),  # as the transports open one
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.session.close()
    for robot in robots.values():
        robot.close()
    if control.graph is aside:
        control.close()
    aside.close()


@pytest.fixture
def hub(connect: Connect, request: pytest.FixtureRequest) -> Hub:
    """The hub of the default robot (settings {}) the sessions share."""
    hub: Hub = request.node.robot_for({})._parts.hub
    return hub


@pytest.fixture
def client(connect: Connect) -> Client:
    return connect()


@pytest.fixture
def toggle(bus: Bus) -> Iterator[str]:
    """A std_srvs/SetBool service on the bus: /toggle."""
    with bus.provide_service("/toggle", SET_BOOL, set_bool_handler):
        yield "/toggle"


@pytest.fixture
def slow(bus: Bus) -> Iterator[str]:
    """A std_srvs/Empty service on the bus that does not answer until the test ends: /slow."""
    release = threading.Event()

    def handler(request: Message) -> Message:
        release.wait(5)
        return {}

    with bus.provide_service("/slow", "std_srvs/Empty", handler):
        yield "/slow"
        release.set()


# -- advertise / unadvertise ------------------------------------------------------------------


def test_advertise_creates_the_topic(client: Client, bus: Bus) -> None:
    client.send({"op": "advertise", "id": "adv", "topic": "/chatter", "type": STRING})
    assert bus.topics() == {"/chatter": STRING}
    assert client.messages() == []


def test_advertising_twice_with_the_same_type_is_fine(client: Client, bus: Bus) -> None:
    for _ in range(2):
        client.send({"op": "advertise", "topic": "/chatter", "type": STRING})
    assert client.messages() == []
    assert bus._topics["/chatter"].publishers == 1
    client.send({"op": "unadvertise", "topic": "/chatter"})
    assert "/chatter" not in bus.topics()


def test_advertising_another_type_is_an_error(client: Client, bus: Bus) -> None:
    client.send({"op": "advertise", "topic": "/chatter", "type": STRING})
    client.send({"op": "advertise", "id": "adv-2", "topic": "/chatter", "type": INT32})
    status = client.status()
    assert status["id"] == "adv-2"
    assert "/chatter" in status["msg"]
    assert STRING in status["msg"]
    assert bus.topics() == {"/chatter": STRING}


def test_advertising_a_topic_the_graph_has_with_another_type_is_an_error(
    client: Client, bus: Bus
) -> None:
    with bus.advertise("/chatter", STRING):
        client.send({"op": "advertise", "id": 3, "topic": "/chatter", "type": INT32})
        status = client.status()
        assert status["id"] == 3
        assert "/chatter" in status["msg"]
        assert bus.topics() == {"/chatter": STRING}


def test_advertising_an_unknown_type_is_an_error(client: Client, bus: Bus) -> None:
    client.send({"op": "advertise", "id": "a", "topic": "/x", "type": "std_msgs/Nope"})
    status = client.status()
    assert status["id"] == "a"
    assert "std_msgs/Nope" in status["msg"]
    assert "/x" not in bus.topics()


@pytest.mark.parametrize(
    ("message", "missing"),
    [
        ({"op": "advertise", "type": STRING}, "topic"),
        ({"op": "advertise", "topic": "/x"}, "type"),
        ({"op": "unadvertise"}, "topic"),
        ({"op": "publish", "msg": {}}, "topic"),
        ({"op": "subscribe"}, "topic"),
        ({"op": "unsubscribe"}, "topic"),
        ({"op": "call_service"}, "service"),
        ({"op": "advertise_service", "type": SET_BOOL}, "service"),
        ({"op": "advertise_service", "service": "/s"}, "type"),
        ({"op": "unadvertise_service"}, "service"),
        ({"op": "service_response", "values": {}}, "id"),
        ({"op": "set_level"}, "level"),
        ({"op": "fragment", "data": "x", "num": 0, "total": 1}, "id"),
        ({"op": "fragment", "id": "f", "num": 0, "total": 1}, "data"),
        ({"op": "fragment", "id": "f", "data": "x", "total": 1}, "num"),
        ({"op": "fragment", "id": "f", "data": "x", "num": 0}, "total"),
    ],
)
def test_a_missing_field_is_an_error_naming_it(
    client: Client, message: dict[str, Any], missing: str
) -> None:
    if missing != "id":
        message = {**message, "id": "m1"}
    client.send(message)
    status = client.status()
    assert f"missing field {missing}" in status["msg"]
    assert status["msg"].startswith(message["op"])
    if missing != "id":
        assert status["id"] == "m1"


def test_the_ops_are_the_ones_tested_here() -> None:
    assert set(OPS) == {
        "advertise", "unadvertise", "publish", "subscribe", "unsubscribe", "call_service",
        "advertise_service", "unadvertise_service", "service_response", "set_level", "fragment",
        "auth", "control",
    }  # fmt: skip


@pytest.mark.parametrize("latch_on", ["advertise", "publish"])
def test_a_latched_message_reaches_a_late_bus_subscriber(
    client: Client, bus: Bus, latch_on: str
) -> None:
    client.send(
        {"op": "advertise", "topic": "/map", "type": STRING, "latch": latch_on == "advertise"}
    )
    client.send(
        {"op": "publish", "topic": "/map", "msg": {"data": "ready"}, "latch": latch_on == "publish"}
    )
    inbox = Inbox()
    with bus.subscribe("/map", inbox, STRING):
        wait_for(lambda: len(inbox) > 0, timeout=2)
    assert inbox.items == [{"data": "ready"}]
    assert client.messages() == []


def test_unadvertise_removes_the_topic_when_nothing_else_uses_it(client: Client, bus: Bus) -> None:
    client.send({"op": "advertise", "topic": "/a", "type": STRING})
    client.send({"op": "advertise", "topic": "/b", "type": STRING})
    inbox = Inbox()
    with bus.subscribe("/b", inbox):
        client.send({"op": "unadvertise", "topic": "/a"})
        client.send({"op": "unadvertise", "topic": "/b"})
        assert client.messages() == []
        assert bus.topics() == {"/b": STRING}  # still subscribed on the robot side
    assert bus.topics() == {}


def test_unadvertising_what_was_not_advertised_is_an_error(client: Client, bus: Bus) -> None:
    with bus.advertise("/theirs", STRING):
        client.send({"op": "unadvertise", "id": "u1", "topic": "/theirs"})
        status = client.status()
        assert status["id"] == "u1"
        assert "/theirs" in status["msg"]
        assert bus.topics() == {"/theirs": STRING}  # someone else's publisher is left alone


# -- publish ----------------------------------------------------------------------------------


def test_publish_without_advertise_uses_the_topic_type(client: Client, bus: Bus) -> None:
    inbox = Inbox()
    with bus.advertise("/count", INT32), bus.subscribe("/count", inbox):
        client.send({"op": "publish", "topic": "count", "msg": {"data": 5}})
        client.send({"op": "publish", "id": "p2", "topic": "/count", "msg": {"data": "six"}})
        status = client.status()
        assert status["id"] == "p2"
        assert "int32" in status["msg"]  # validated against the topic's type
    assert inbox.items == [{"data": 5}]


def test_publish_to_an_unknown_topic_asks_to_advertise(client: Client, bus: Bus) -> None:
    client.send({"op": "publish", "id": "p1", "topic": "/nowhere", "msg": {"data": "hi"}})
    status = client.status()
    assert status["id"] == "p1"
    assert "/nowhere" in status["msg"]
    assert "advertise" in status["msg"]
    assert bus.topics() == {}


@pytest.mark.parametrize(
    ("msg", "path", "expected"),
    [
        ({"linear": {"x": "fast"}}, "msg.linear.x", "float64"),
        ({"angular": {"z": True}}, "msg.angular.z", "float64"),
        ({"linear": 5}, "msg.linear", "geometry_msgs/Vector3"),
        ({"linear": {"w": 1.0}}, "msg.linear.w", "no field"),
        ({"speed": 1.0}, "msg.speed", "no field"),
        ([1.0, 2.0], "msg", "an object"),
    ],
)
def test_publish_with_a_bad_field_names_it(
    client: Client, bus: Bus, msg: Any, path: str, expected: str
) -> None:
    inbox = Inbox()
    client.send({"op": "advertise", "topic": "/cmd", "type": TWIST})
    with bus.subscribe("/cmd", inbox):
        client.send({"op": "publish", "id": "bad", "topic": "/cmd", "msg": msg})
    status = client.status()
    assert status["id"] == "bad"
    assert f"field {path} " in status["msg"]
    assert expected in status["msg"]
    assert inbox.items == []


def test_publish_to_the_teleop_topic_is_clamped_and_stopped_by_the_deadman(
    connect: Connect, bus: Bus, control: Control
) -> None:
    client = connect()
    inbox = Inbox()
    with bus.subscribe("/cmd_vel", inbox):
        started = time.monotonic()
        client.send(
            {
                "op": "publish",
                "topic": "/cmd_vel",
                "msg": {"linear": {"x": 5.0}, "angular": {"z": -9.0}},
            }
        )
        assert client.messages() == []
        wait_for(lambda: len(inbox) >= 2, timeout=2)
        stopped_after = time.monotonic() - started
    first, stop = inbox.items[:2]
    assert first["linear"]["x"] == control.limits.max_linear
    assert first["angular"]["z"] == -control.limits.max_angular
    assert stop == {
        "linear": {"x": 0.0, "y": 0.0, "z": 0.0},
        "angular": {"x": 0.0, "y": 0.0, "z": 0.0},
    }
    assert stopped_after >= 0.15
    assert control.teleop.deadman_stops == 1


# -- subscribe --------------------------------------------------------------------------------


def test_subscribed_messages_arrive_as_publish_ops(client: Client, bus: Bus) -> None:
    client.send({"op": "subscribe", "id": "s1", "topic": "/chatter", "type": STRING})
    assert client.messages() == []
    client.woken.clear()
    bus.publish("/chatter", STRING, {"data": "héllo"})
    assert client.woken.is_set()
    assert client.messages() == [{"op": "publish", "topic": "/chatter", "msg": {"data": "héllo"}}]


def test_subscribe_without_type_to_an_existing_topic(client: Client, bus: Bus) -> None:
    with bus.advertise("/count", INT32):
        client.send({"op": "subscribe", "topic": "/count"})
        bus.publish("/count", INT32, {"data": 7})
        assert client.messages() == [{"op": "publish", "topic": "/count", "msg": {"data": 7}}]


def test_subscribe_without_type_to_an_unknown_topic_is_an_error(client: Client, bus: Bus) -> None:
    client.send({"op": "subscribe", "id": "s1", "topic": "/unknown"})
    status = client.status()
    assert status["id"] == "s1"
    assert "/unknown" in status["msg"]
    assert bus.topics() == {}


def test_subscribe_with_another_type_than_the_topic_is_an_error(client: Client, bus: Bus) -> None:
    with bus.advertise("/chatter", STRING):
        client.send({"op": "subscribe", "id": "s1", "topic": "/chatter", "type": INT32})
        status = client.status()
        assert status["id"] == "s1"
        assert STRING in status["msg"]
        assert subscribers(bus, "/chatter") == 0


def test_subscribe_again_with_another_type_is_an_error(client: Client, bus: Bus) -> None:
    client.send({"op": "subscribe", "id": "a", "topic": "/chatter", "type": STRING})
    client.send({"op": "subscribe", "id": "b", "topic": "/chatter", "type": INT32})
    status = client.status()
    assert status["id"] == "b"
    assert STRING in status["msg"]
    bus.publish("/chatter", STRING, {"data": "still here"})
    assert [m["msg"] for m in client.messages()] == [{"data": "still here"}]


def test_throttle_rate_limits_the_stream(client: Client, bus: Bus) -> None:
    client.send({"op": "subscribe", "topic": "/fast", "type": INT32, "throttle_rate": 10_000})
    for i in range(5):
        bus.publish("/fast", INT32, {"data": i})
    assert [m["msg"]["data"] for m in client.messages()] == [0]


def test_queue_length_keeps_the_newest_messages(client: Client, bus: Bus) -> None:
    client.send({"op": "subscribe", "topic": "/count", "type": INT32, "queue_length": 3})
    client.send({"op": "subscribe", "topic": "/other", "type": INT32, "queue_length": 3})
    for i in range(20):
        bus.publish("/count", INT32, {"data": i})
    bus.publish("/other", INT32, {"data": 100})
    received = client.messages()
    assert [m["msg"]["data"] for m in received if m["topic"] == "/count"] == [17, 18, 19]
    assert [m["msg"]["data"] for m in received if m["topic"] == "/other"] == [100]


def test_default_queue_length_comes_from_the_options(connect: Connect, bus: Bus) -> None:
    client = connect(queue_length=2)
    client.send({"op": "subscribe", "topic": "/count", "type": INT32})
    for i in range(5):
        bus.publish("/count", INT32, {"data": i})
    assert [m["msg"]["data"] for m in client.messages()] == [3, 4]


def test_queue_length_is_capped_by_the_options(connect: Connect, bus: Bus) -> None:
    client = connect(max_queue_length=4)
    client.send({"op": "subscribe", "topic": "/count", "type": INT32, "queue_length": 100})
    for i in range(10):
        bus.publish("/count", INT32, {"data": i})
    assert [m["msg"]["data"] for m in client.messages()] == [6, 7, 8, 9]


def test_frames_name_the_topic_as_the_client_wrote_it(connect: Connect, bus: Bus) -> None:
    relative, absolute = connect(), connect()
    relative.send({"op": "subscribe", "topic": "chatter", "type": STRING})
    absolute.send({"op": "subscribe", "topic": "/chatter", "type": STRING})
    assert len(bus._topics["/chatter"].subscribers) == 1
    bus.publish("/chatter", STRING, {"data": "hi"})
    assert relative.messages() == [{"op": "publish", "topic": "chatter", "msg": {"data": "hi"}}]
    assert absolute.messages() == [{"op": "publish", "topic": "/chatter", "msg": {"data": "hi"}}]


def test_two_subscriptions_on_one_topic_share_one_stream(client: Client, bus: Bus) -> None:
    client.send({"op": "subscribe", "id": "a", "topic": "/chatter", "type": STRING})
    client.send({"op": "subscribe", "id": "b", "topic": "/chatter", "type": STRING})
    bus.publish("/chatter", STRING, {"data": "once"})
    assert [m["msg"] for m in client.messages()] == [{"data": "once"}]

    client.send({"op": "unsubscribe", "id": "a", "topic": "/chatter"})
    bus.publish("/chatter", STRING, {"data": "b is still subscribed"})
    assert [m["msg"] for m in client.messages()] == [{"data": "b is still subscribed"}]
    assert subscribers(bus, "/chatter") == 1

    client.send({"op": "unsubscribe", "id": "b", "topic": "/chatter"})
    bus.publish("/chatter", STRING, {"data": "nobody"})
    assert client.messages() == []
    assert subscribers(bus, "/chatter") == 0


def test_unsubscribe_without_id_ends_every_subscription(client: Client, bus: Bus) -> None:
    client.send({"op": "subscribe", "id": "a", "topic": "/chatter", "type": STRING})
    client.send({"op": "subscribe", "id": "b", "topic": "/chatter", "type": STRING})
    client.send({"op": "unsubscribe", "topic": "/chatter"})
    bus.publish("/chatter", STRING, {"data": "nobody"})
    assert client.messages() == []
    assert subscribers(bus, "/chatter") == 0


def test_unsubscribe_with_an_unknown_id_keeps_the_stream(client: Client, bus: Bus) -> None:
    """rosbridge cancels only the subscription with this id, and there is none: a repeated
    unsubscribe of "b" must not end "a"'s stream."""
    client.send({"op": "subscribe", "id": "a", "topic": "/chatter", "type": STRING})
    client.send({"op": "subscribe", "id": "b", "topic": "/chatter", "type": STRING})
    client.send({"op": "unsubscribe", "id": "b", "topic": "/chatter"})
    client.send({"op": "unsubscribe", "id": "b", "topic": "/chatter"})
    bus.publish("/chatter", STRING, {"data": "for a"})
    assert [m["msg"] for m in client.messages()] == [{"data": "for a"}]


def test_unsubscribing_what_is_not_subscribed_is_ignored(client: Client) -> None:
    client.send({"op": "unsubscribe", "id": "x", "topic": "/never"})
    assert client.messages() == []


def test_sessions_share_one_backend_subscription_and_one_frame(connect: Connect, bus: Bus) -> None:
    first, second = connect(), connect()
    for client in (first, second):
        client.send({"op": "subscribe", "topic": "/chatter", "type": STRING})
    assert len(bus._topics["/chatter"].subscribers) == 1
    bus.publish("/chatter", STRING, {"data": "shared"})
    (frame_1,) = first.frames()
    (frame_2,) = second.frames()
    assert frame_1 is frame_2  # encoded once for every session
    assert decode_frame(frame_1) == {
        "op": "publish",
        "topic": "/chatter",
        "msg": {"data": "shared"},
    }
    first.session.close()
    assert len(bus._topics["/chatter"].subscribers) == 1
    second.session.close()
    assert subscribers(bus, "/chatter") == 0


def compressed_image(bus: Bus, data: bytes) -> Message:
    return from_json(bus.types, "sensor_msgs/CompressedImage", {"format": "png", "data": data})


def test_cbor_compression_sends_bytes(connect: Connect, bus: Bus) -> None:
    cbor_client, json_client = connect(), connect()
    for client, compression in ((cbor_client, "cbor"), (json_client, "none")):
        client.send(
            {
                "op": "subscribe",
                "topic": "/image",
                "type": "sensor_msgs/CompressedImage",
                "compression": compression,
            }
        )
    image = compressed_image(bus, bytes([0, 1, 254, 255]))
    bus.publish("/image", "sensor_msgs/CompressedImage", image)
    (frame,) = cbor_client.frames()
    assert isinstance(frame, bytes)
    received = cbor2.loads(frame)
    assert received["op"] == "publish"
    assert received["topic"] == "/image"
    assert received["msg"]["data"] == bytes([0, 1, 254, 255])  # a byte string, not base64
    assert received["msg"] == image
    (as_json,) = json_client.messages()
    assert as_json["msg"]["data"] == "AAH+/w=="  # base64 in JSON, for the same message


def test_cbor_raw_compression_sends_the_ros1_serialization(client: Client, bus: Bus) -> None:
    client.send({"op": "subscribe", "topic": "/count", "type": INT32, "compression": "cbor-raw"})
    before = time.time()
    bus.publish("/count", INT32, {"data": 258})
    (frame,) = client.frames()
    assert isinstance(frame, bytes)
    received = cbor2.loads(frame)
    assert received["op"] == "publish"
    assert received["topic"] == "/count"
    raw = received["msg"]
    assert raw["bytes"] == to_ros1(bus.types, INT32, {"data": 258})
    assert raw["bytes"] == (258).to_bytes(4, "little")
    assert abs(raw["secs"] + raw["nsecs"] / 1e9 - before) < 5
    assert 0 <= raw["nsecs"] < 1_000_000_000


def test_an_unknown_compression_is_an_error(client: Client, bus: Bus) -> None:
    client.send({"op": "subscribe", "id": "s", "topic": "/c", "type": STRING, "compression": "zip"})
    status = client.status()
    assert status["id"] == "s"
    assert "zip" in status["msg"]
    assert subscribers(bus, "/c") == 0


def test_fragment_size_splits_a_message_into_fragments(client: Client, bus: Bus) -> None:
    client.send({"op": "subscribe", "topic": "/chatter", "type": STRING, "fragment_size": 60})
    text = "x" * 200
    bus.publish("/chatter", STRING, {"data": text})
    received = client.messages()
    assert len(received) == 5  # 254 characters of publish frame
    assert all(m["op"] == "fragment" for m in received)
    assert {m["id"] for m in received} == {received[0]["id"]}
    assert [m["num"] for m in received] == [0, 1, 2, 3, 4]
    assert all(m["total"] == 5 for m in received)
    assert all(len(m["data"]) <= 60 for m in received)
    whole = "".join(m["data"] for m in received)
    assert json.loads(whole) == {"op": "publish", "topic": "/chatter", "msg": {"data": text}}

    bus.publish("/chatter", STRING, {"data": "short"})  # a 57-character frame: sent whole
    assert client.messages() == [{"op": "publish", "topic": "/chatter", "msg": {"data": "short"}}]


def test_topics_take_turns_in_outgoing(client: Client, bus: Bus) -> None:
    for topic in ("/a", "/b"):
        client.send({"op": "subscribe", "topic": topic, "type": INT32})
    for topic in ("/a", "/b"):
        for i in range(3):
            bus.publish(topic, INT32, {"data": i})
    received = client.messages()
    assert [(m["topic"], m["msg"]["data"]) for m in received] == [
        ("/a", 0), ("/b", 0), ("/a", 1), ("/b", 1), ("/a", 2), ("/b", 2),
    ]  # fmt: skip


def test_outgoing_limit_leaves_the_rest_for_later(client: Client, bus: Bus) -> None:
    client.send({"op": "subscribe", "topic": "/count", "type": INT32})
    for i in range(5):
        bus.publish("/count", INT32, {"data": i})
    first = client.session.outgoing(limit=2)
    assert [decode_frame(f)["msg"]["data"] for f in first] == [0, 1]
    assert [m["msg"]["data"] for m in client.messages()] == [2, 3, 4]


# -- call_service -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "success"),
    [({"data": True}, True), ([True], True), (None, False), ({}, False), ([], False)],
    ids=["dict", "list", "missing", "empty-dict", "empty-list"],
)
def test_call_service(client: Client, toggle: str, args: Any, success: bool) -> None:
    call: dict[str, Any] = {"op": "call_service", "id": "c1", "service": toggle}
    if args is not None:
        call["args"] = args
    client.send(call)
    response = client.expect(op="service_response")
    assert response == {
        "op": "service_response",
        "id": "c1",
        "service": "/toggle",
        "values": {"success": success, "message": "on" if success else "off"},
        "result": True,
    }


def test_call_service_without_id_is_answered_without_id(client: Client, toggle: str) -> None:
    client.send({"op": "call_service", "service": toggle, "args": {"data": True}})
    response = client.expect(op="service_response")
    assert "id" not in response
    assert response["result"] is True


def test_calling_an_unknown_service_fails_with_a_status(client: Client) -> None:
    client.send({"op": "call_service", "id": "c2", "service": "/missing", "args": {}})
    received = client.collect(lambda got: {m["op"] for m in got} >= {"status", "service_response"})
    response = next(m for m in received if m["op"] == "service_response")
    status = next(m for m in received if m["op"] == "status")
    assert response["id"] == "c2"
    assert response["service"] == "/missing"
    assert response["result"] is False
    assert "/missing" in response["values"]
    assert status["id"] == "c2"
    assert status["level"] == "error"
    assert "/missing" in status["msg"]


@pytest.mark.parametrize(
    ("args", "named"),
    [({"data": 5}, "data"), ({"power": True}, "power"), ([True, 1], "args"), (["yes"], "data")],
)
def test_call_service_with_bad_args_fails_naming_the_field(
    client: Client, toggle: str, args: Any, named: str
) -> None:
    client.send({"op": "call_service", "id": 9, "service": toggle, "args": args})
    response = client.expect(op="service_response")
    assert response["id"] == 9
    assert response["result"] is False
    assert named in response["values"]


@pytest.mark.parametrize("args", ["on", 1, True])
def test_call_service_args_must_be_a_list_or_an_object(
    client: Client, toggle: str, args: Any
) -> None:
    client.send({"op": "call_service", "id": "c", "service": toggle, "args": args})
    status = client.status()
    assert status["id"] == "c"
    assert "args" in status["msg"]


def test_a_failing_service_handler_fails_the_call(client: Client, bus: Bus) -> None:
    def broken(request: Message) -> Message:
        raise RuntimeError("motor driver not ready")

    with bus.provide_service("/broken", "std_srvs/Trigger", broken):
        client.send({"op": "call_service", "id": "c3", "service": "/broken"})
        response = client.expect(op="service_response")
    assert response["id"] == "c3"
    assert response["result"] is False
    assert "motor driver not ready" in response["values"]


def test_a_slow_service_times_out(client: Client, slow: str) -> None:
    started = time.monotonic()
    client.send({"op": "call_service", "id": "c4", "service": slow, "timeout": 0.3})
    response = client.expect(op="service_response")
    elapsed = time.monotonic() - started
    assert response["result"] is False
    assert response["id"] == "c4"
    assert "/slow" in response["values"]
    assert 0.25 <= elapsed < 2


def test_the_default_call_timeout_comes_from_the_options(connect: Connect, slow: str) -> None:
    client = connect(service_timeout=0.3)
    client.send({"op": "call_service", "id": "c5", "service": slow})
    response = client.expect(op="service_response", timeout=2)
    assert response["result"] is False


def test_call_service_with_cbor_compression_answers_in_cbor(client: Client, toggle: str) -> None:
    client.send(
        {
            "op": "call_service",
            "id": "c6",
            "service": toggle,
            "args": {"data": True},
            "compression": "cbor",
        }
    )
    (frame,) = wait_for(client.frames, timeout=3)
    assert isinstance(frame, bytes)
    assert cbor2.loads(frame) == {
        "op": "service_response",
        "id": "c6",
        "service": "/toggle",
        "values": {"success": True, "message": "on"},
        "result": True,
    }


def test_call_service_with_an_unknown_compression_is_an_error(client: Client, toggle: str) -> None:
    client.send({"op": "call_service", "id": "c7", "service": toggle, "compression": "gzip"})
    status = client.status()
    assert status["id"] == "c7"
    assert "gzip" in status["msg"]


# -- rosapi -----------------------------------------------------------------------------------

#: service -> (args, fields of the response)
ROSAPI_CALLS: dict[str, tuple[dict[str, Any], set[str]]] = {
    "/rosapi/topics": ({}, {"topics", "types"}),
    "/rosapi/topic_type": ({"topic": "/chatter"}, {"type"}),
    "/rosapi/topics_for_type": ({"type": STRING}, {"topics"}),
    "/rosapi/services": ({}, {"services"}),
    "/rosapi/service_type": ({"service": "/toggle"}, {"type"}),
    "/rosapi/nodes": ({}, {"nodes"}),
    "/rosapi/message_details": ({"type": TWIST}, {"typedefs"}),
    "/rosapi/service_request_details": ({"type": SET_BOOL}, {"typedefs"}),
    "/rosapi/service_response_details": ({"type": SET_BOOL}, {"typedefs"}),
    "/rosapi/get_param": ({"name": "/robot/speed"}, {"value", "successful", "reason"}),
    "/rosapi/set_param": ({"name": "/robot/speed", "value": "0.7"}, {"successful", "reason"}),
    "/rosapi/has_param": ({"name": "/robot/speed"}, {"exists"}),
    "/rosapi/delete_param": ({"name": "/robot/speed"}, {"successful", "reason"}),
    "/rosapi/get_param_names": ({}, {"names"}),
    "/rosapi/get_time": ({}, {"time"}),
    "/rosapi/topic_stats": ({}, {"topics", "types", "rates", "bandwidths", "counts"}),
}


def call(client: Client, service: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """The service_response of one call_service."""
    mid = f"call:{service}:{time.monotonic_ns()}"
    client.send({"op": "call_service", "id": mid, "service": service, "args": args or {}})
    response = client.expect(op="service_response", id=mid)
    assert response["service"] == service
    return response


def rosapi(client: Client, service: str, args: dict[str, Any] | None = None) -> Any:
    """The values of a successful rosapi call."""
    response = call(client, f"/rosapi/{service}", args)
    assert response["result"] is True, response
    return response["values"]


def test_the_rosapi_table_is_complete() -> None:
    assert set(ROSAPI_CALLS) == set(ROSAPI)


@pytest.mark.parametrize("service", sorted(ROSAPI_CALLS))
def test_every_rosapi_service_answers_with_its_fields(
    client: Client, bus: Bus, toggle: str, service: str
) -> None:
    bus.set_param("/robot/speed", 0.5)
    client.send({"op": "advertise", "topic": "/chatter", "type": STRING})
    args, fields = ROSAPI_CALLS[service]
    assert set(rosapi(client, service.removeprefix("/rosapi/"), args)) == fields


def test_rosapi_topics(client: Client, bus: Bus) -> None:
    client.send({"op": "advertise", "topic": "/chatter", "type": STRING})
    client.send({"op": "advertise", "topic": "/cmd", "type": TWIST})
    values = rosapi(client, "topics")
    assert dict(zip(values["topics"], values["types"], strict=True)) == {
        "/chatter": STRING,
        "/cmd": TWIST,
    }
    assert rosapi(client, "topic_type", {"topic": "/cmd"}) == {"type": TWIST}
    assert rosapi(client, "topic_type", {"topic": "/nothing"}) == {"type": ""}
    assert rosapi(client, "topics_for_type", {"type": STRING}) == {"topics": ["/chatter"]}
    assert rosapi(client, "topics_for_type", {"type": INT32}) == {"topics": []}


def test_rosapi_topic_stats_counts_what_the_hub_receives(client: Client, bus: Bus) -> None:
    client.send({"op": "subscribe", "id": "s", "topic": "/chatter", "type": STRING})
    client.send({"op": "advertise", "topic": "/quiet", "type": STRING})
    for _i in range(20):
        bus.publish("/chatter", STRING, {"data": "x" * 10})
        time.sleep(0.01)
    values = rosapi(client, "topic_stats", {"topics": ["/chatter", "/quiet"]})
    rows = {name: i for i, name in enumerate(values["topics"])}
    chatter = rows["/chatter"]
    assert values["counts"][chatter] == 20
    assert 20 < values["rates"][chatter] < 200  # about 100 Hz, on a busy machine
    # each std_msgs/String of 10 characters is 14 bytes in ROS 1's serialization
    assert values["bandwidths"][chatter] == pytest.approx(14 * values["rates"][chatter], rel=0.01)
    assert values["rates"][rows["/quiet"]] == -1.0  # nobody receives it: no figure
    status = call(client, "/rosapi/topic_stats", {"topics": "/chatter"})
    assert status["result"] is False
    assert "topics" in str(status["values"])


def test_rosapi_services(client: Client, toggle: str) -> None:
    services = rosapi(client, "services")["services"]
    assert "/toggle" in services
    assert set(ROSAPI) <= set(services)
    assert services == sorted(services)
    assert rosapi(client, "service_type", {"service": "/toggle"}) == {"type": SET_BOOL}
    assert rosapi(client, "service_type", {"service": "/rosapi/get_param"}) == {
        "type": "rosapi/GetParam"
    }
    assert rosapi(client, "service_type", {"service": "/rosapi/topics_for_type"}) == {
        "type": "rosapi/TopicsForType"
    }
    assert rosapi(client, "service_type", {"service": "/nothing"}) == {"type": ""}


def test_rosapi_nodes(client: Client) -> None:
    assert rosapi(client, "nodes") == {"nodes": ["/rosweb"]}


def test_rosapi_message_details(client: Client) -> None:
    typedefs = {
        t["type"]: t for t in rosapi(client, "message_details", {"type": TWIST})["typedefs"]
    }
    assert set(typedefs) == {TWIST, "geometry_msgs/Vector3"}
    assert typedefs[TWIST]["fieldnames"] == ["linear", "angular"]
    assert typedefs[TWIST]["fieldtypes"] == ["geometry_msgs/Vector3"] * 2
    assert typedefs[TWIST]["fieldarraylen"] == [-1, -1]
    assert typedefs["geometry_msgs/Vector3"]["fieldnames"] == ["x", "y", "z"]
    assert typedefs["geometry_msgs/Vector3"]["fieldtypes"] == ["float64"] * 3
    assert typedefs["geometry_msgs/Vector3"]["examples"] == [0.0, 0.0, 0.0]


def test_rosapi_service_details(client: Client) -> None:
    (request,) = rosapi(client, "service_request_details", {"type": SET_BOOL})["typedefs"]
    (response,) = rosapi(client, "service_response_details", {"type": SET_BOOL})["typedefs"]
    assert request["fieldnames"] == ["data"]
    assert request["fieldtypes"] == ["bool"]
    assert response["fieldnames"] == ["success", "message"]
    assert response["fieldtypes"] == ["bool", "string"]


@pytest.mark.parametrize(
    ("service", "args"),
    [
        ("message_details", {"type": "std_msgs/Nope"}),
        ("service_request_details", {"type": STRING}),
        ("service_response_details", {"type": "std_srvs/Nope"}),
        ("topic_type", {"topic": 5}),
        ("delete_param", {"name": "/missing"}),
    ],
)
def test_rosapi_errors_fail_the_call(client: Client, service: str, args: dict[str, Any]) -> None:
    response = call(client, f"/rosapi/{service}", args)
    assert response["result"] is False
    assert isinstance(response["values"], str)


def test_rosapi_takes_its_arguments_as_an_object(client: Client) -> None:
    client.send({"op": "call_service", "id": "r", "service": "/rosapi/topic_type", "args": ["/x"]})
    response = client.expect(op="service_response")
    assert response["result"] is False
    assert "args" in response["values"]


def param_value(client: Client, name: str, **args: str) -> str:
    """get_param's value (JSON text) of a parameter that exists, or of its default."""
    values = rosapi(client, "get_param", {"name": name, **args})
    assert values["successful"] is True, values
    return str(values["value"])


def test_rosapi_params(client: Client, bus: Bus) -> None:
    ok = {"successful": True, "reason": ""}
    bus.set_param("/robot/name", "rover")
    assert rosapi(client, "set_param", {"name": "/robot/speed", "value": "0.5"}) == ok
    assert rosapi(client, "set_param", {"name": "/robot/gains", "value": '{"p": 1.5}'}) == ok
    assert bus.get_param("/robot/speed") == 0.5
    assert bus.get_param("/robot/gains") == {"p": 1.5}

    assert param_value(client, "/robot/speed") == "0.5"
    assert param_value(client, "/robot/name") == '"rover"'
    robot = json.loads(param_value(client, "/robot"))
    assert robot == {"name": "rover", "speed": 0.5, "gains": {"p": 1.5}}
    assert param_value(client, "/robot/missing", default="42") == "42"
    assert param_value(client, "/robot/missing", default_value='"x"') == '"x"'
    assert param_value(client, "/robot/speed", default="42") == "0.5"

    assert rosapi(client, "has_param", {"name": "/robot/speed"}) == {"exists": True}
    assert rosapi(client, "has_param", {"name": "/robot/missing"}) == {"exists": False}
    names = rosapi(client, "get_param_names")["names"]
    assert {"/robot/name", "/robot/speed", "/robot/gains/p"} <= set(names)

    assert rosapi(client, "delete_param", {"name": "/robot/speed"}) == ok
    assert rosapi(client, "has_param", {"name": "/robot/speed"}) == {"exists": False}
    with pytest.raises(NotFoundError):
        bus.get_param("/robot/speed")


def test_rosapi_get_param_of_a_missing_param_without_default(client: Client) -> None:
    values = rosapi(client, "get_param", {"name": "/robot/missing"})
    assert values["value"] == "null"
    assert values["successful"] is False
    assert "/robot/missing" in values["reason"]


def test_rosapi_set_param_needs_json_text(client: Client, bus: Bus) -> None:
    response = call(client, "/rosapi/set_param", {"name": "/robot/mode", "value": "fast!"})
    assert response["result"] is False
    assert "value" in response["values"]
    assert "/robot/mode" not in bus.param_names()


def test_rosapi_get_time(client: Client) -> None:
    now = time.time()
    stamp = rosapi(client, "get_time")["time"]
    assert set(stamp) == {"secs", "nsecs"}
    assert 0 <= stamp["nsecs"] < 1_000_000_000
    assert abs(stamp["secs"] + stamp["nsecs"] / 1e9 - now) < 5


# -- advertise_service: the client provides a service -----------------------------------------


def advertise_toggle(client: Client, bus: Bus) -> None:
    client.send({"op": "advertise_service", "service": "/client/toggle", "type": SET_BOOL})
    assert client.messages() == []
    assert bus.services() == {"/client/toggle": SET_BOOL}


def call_from_the_graph(executor: ThreadPoolExecutor, bus: Bus) -> Future[Message]:
    """A robot-side call of the client's service, in a thread."""
    return executor.submit(bus.call_service, "/client/toggle", {"data": True}, timeout=5)


def test_the_graph_calls_a_service_the_client_provides(
    client: Client, bus: Bus, executor: ThreadPoolExecutor
) -> None:
    advertise_toggle(client, bus)
    future = call_from_the_graph(executor, bus)
    request = client.expect(op="call_service")
    assert request["service"] == "/client/toggle"
    assert request["args"] == {"data": True}
    assert isinstance(request["id"], str)
    assert not future.done()
    client.send(
        {
            "op": "service_response",
            "id": request["id"],
            "service": "/client/toggle",
            "values": {"success": True, "message": "done"},
            "result": True,
        }
    )
    assert future.result(timeout=3) == {"success": True, "message": "done"}
    assert client.messages() == []


def test_a_client_service_answering_result_false_is_a_service_error(
    client: Client, bus: Bus, executor: ThreadPoolExecutor
) -> None:
    advertise_toggle(client, bus)
    future = call_from_the_graph(executor, bus)
    request = client.expect(op="call_service")
    client.send(
        {"op": "service_response", "id": request["id"], "values": "relay stuck", "result": False}
    )
    with pytest.raises(ServiceError, match="relay stuck"):
        future.result(timeout=3)


def test_a_client_service_that_does_not_answer_times_out(
    connect: Connect, bus: Bus, executor: ThreadPoolExecutor
) -> None:
    client = connect(service_timeout=0.3)
    advertise_toggle(client, bus)
    started = time.monotonic()
    future = call_from_the_graph(executor, bus)
    request = client.expect(op="call_service")
    with pytest.raises(ServiceTimeout):
        future.result(timeout=3)
    assert 0.25 <= time.monotonic() - started < 2
    client.send({"op": "service_response", "id": request["id"], "values": {}, "result": True})
    assert "no call" in client.status()["msg"]  # too late: nobody waits any more


def test_a_service_response_nobody_waits_for_is_an_error(client: Client) -> None:
    client.send({"op": "service_response", "id": "nope", "values": {}, "result": True})
    status = client.status()
    assert status["id"] == "nope"
    assert "nope" in status["msg"]


def test_unadvertise_service_removes_it(client: Client, bus: Bus) -> None:
    advertise_toggle(client, bus)
    client.send({"op": "unadvertise_service", "service": "/client/toggle"})
    assert client.messages() == []
    assert bus.services() == {}
    with pytest.raises(NotFoundError):
        bus.call_service("/client/toggle", {"data": True}, timeout=1)


def test_unadvertising_a_service_not_advertised_is_an_error(
    client: Client, toggle: str, bus: Bus
) -> None:
    client.send({"op": "unadvertise_service", "id": "us", "service": toggle})
    status = client.status()
    assert status["id"] == "us"
    assert toggle in status["msg"]
    assert toggle in bus.services()


@pytest.mark.parametrize(
    ("service", "type_name", "expected"),
    [
        ("/client/x", "std_srvs/Nope", "std_srvs/Nope"),
        ("/client/x", STRING, STRING),  # a message type, not a service type
        ("/toggle", SET_BOOL, "/toggle"),  # provided by someone else
    ],
)
def test_advertise_service_errors(
    client: Client, bus: Bus, toggle: str, service: str, type_name: str, expected: str
) -> None:
    client.send({"op": "advertise_service", "id": "as", "service": service, "type": type_name})
    status = client.status()
    assert status["id"] == "as"
    assert expected in status["msg"]
    assert bus.services() == {"/toggle": SET_BOOL}


def test_advertising_a_service_twice_is_an_error(client: Client, bus: Bus) -> None:
    advertise_toggle(client, bus)
    client.send({"op": "advertise_service", "id": 2, "service": "/client/toggle", "type": SET_BOOL})
    status = client.status()
    assert status["id"] == 2
    assert "/client/toggle" in status["msg"]
    assert bus.services() == {"/client/toggle": SET_BOOL}


def test_closing_the_session_fails_a_waiting_call_at_once(
    client: Client, bus: Bus, executor: ThreadPoolExecutor
) -> None:
    advertise_toggle(client, bus)  # service_timeout stays 10 s
    future = call_from_the_graph(executor, bus)
    client.expect(op="call_service")
    started = time.monotonic()
    client.session.close()
    with pytest.raises(ServiceError, match="disconnected"):
        future.result(timeout=3)
    assert time.monotonic() - started < 1
    assert bus.services() == {}


# -- set_level and status ---------------------------------------------------------------------


def test_set_level_none_silences_status_errors(client: Client) -> None:
    client.send({"op": "set_level", "level": "none"})
    client.send({"op": "dance"})
    client.send({"op": "subscribe", "topic": "/unknown"})
    assert client.messages() == []
    client.send({"op": "call_service", "id": "c", "service": "/missing"})
    received = client.collect(lambda got: any(m["op"] == "service_response" for m in got))
    assert [(m["op"], m["result"]) for m in received] == [("service_response", False)]
    assert client.messages() == []  # answers still come, without a status


@pytest.mark.parametrize("level", ["info", "warning", "error"])
def test_set_level_up_to_error_still_reports_errors(client: Client, level: str) -> None:
    client.send({"op": "set_level", "level": "none"})
    client.send({"op": "set_level", "level": level})
    assert client.messages() == []
    client.send({"op": "dance", "id": "d"})
    assert client.status()["id"] == "d"


@pytest.mark.parametrize("level", ["debug", "ERROR", 3])
def test_set_level_to_an_unknown_level_is_an_error(client: Client, level: Any) -> None:
    client.send({"op": "set_level", "id": "lvl", "level": level})
    status = client.status()
    assert status["id"] == "lvl"
    assert "level" in status["msg"]


def test_a_status_wakes_the_transport(client: Client) -> None:
    client.woken.clear()
    client.send({"op": "dance"})
    assert client.woken.is_set()
    assert "dance" in client.status()["msg"]


@pytest.mark.parametrize("mid", ["sub-1", 42, 0])
def test_status_carries_the_offending_id(client: Client, mid: str | int) -> None:
    client.send({"op": "subscribe", "id": mid, "topic": "/unknown"})
    status = client.status()
    assert status["id"] == mid
    assert type(status["id"]) is type(mid)


@pytest.mark.parametrize("mid", [None, True, 1.5, ["x"]])
def test_status_without_a_usable_id_has_none(client: Client, mid: Any) -> None:
    client.send({"op": "dance", "id": mid})
    assert "id" not in client.status()


# -- fragment (inbound) -----------------------------------------------------------------------


def fragments_of(message: dict[str, Any], count: int, fid: str = "frag-1") -> list[dict[str, Any]]:
    text = json.dumps(message)
    size = -(-len(text) // count)
    return [
        {
            "op": "fragment",
            "id": fid,
            "data": text[i * size : (i + 1) * size],
            "num": i,
            "total": count,
        }
        for i in range(count)
    ]


def test_a_fragmented_publish_is_handled_once_complete(client: Client, bus: Bus) -> None:
    inbox = Inbox()
    client.send({"op": "advertise", "topic": "/chatter", "type": STRING})
    parts = fragments_of(
        {"op": "publish", "topic": "/chatter", "msg": {"data": "in three parts"}}, 3
    )
    with bus.subscribe("/chatter", inbox):
        for part in (parts[2], parts[0]):
            client.send(part)
            assert inbox.items == []
        client.send(parts[1])
        assert inbox.items == [{"data": "in three parts"}]
        for part in parts:  # the same fragments again make a second, separate message
            client.send(part)
        assert len(inbox) == 2
    assert client.messages() == []


def test_a_fragmented_bad_op_is_reported(client: Client) -> None:
    for part in fragments_of({"op": "subscribe", "id": "inner", "topic": "/unknown"}, 2):
        client.send(part)
    assert client.status()["id"] == "inner"


@pytest.mark.parametrize(("num", "total"), [(3, 3), (-1, 3), (0, 0)])
def test_a_fragment_number_out_of_range_is_an_error(client: Client, num: int, total: int) -> None:
    client.send({"op": "fragment", "id": "f1", "data": "{}", "num": num, "total": total})
    status = client.status()
    assert status["id"] == "f1"
    assert "num" in status["msg"]


def test_an_oversize_fragmented_message_is_an_error(connect: Connect, bus: Bus) -> None:
    client = connect(max_message_size=40)
    client.send({"op": "advertise", "topic": "/chatter", "type": STRING})
    inbox = Inbox()
    message = {"op": "publish", "topic": "/chatter", "msg": {"data": "x" * 100}}
    with bus.subscribe("/chatter", inbox):
        errors = []
        for part in fragments_of(message, 4, fid="big"):
            client.send(part)
            errors += client.messages()
    assert inbox.items == []
    assert errors
    assert errors[0]["op"] == "status"
    assert errors[0]["id"] == "big"
    assert "larger than the limit" in errors[0]["msg"]


def test_an_incomplete_fragmented_message_is_dropped_after_the_timeout(
    connect: Connect, bus: Bus
) -> None:
    client = connect(fragment_timeout=0.1)
    client.send({"op": "advertise", "topic": "/chatter", "type": STRING})
    first, second = fragments_of({"op": "publish", "topic": "/chatter", "msg": {}}, 2, fid="old")
    inbox = Inbox()
    with bus.subscribe("/chatter", inbox):
        client.send(first)
        sent = time.monotonic()
        wait_for(lambda: time.monotonic() - sent > 0.15)  # the first fragment grows stale
        client.send(second)
        assert inbox.items == []  # the first fragment was dropped: incomplete
        client.send(first)
        assert inbox.items == [{"data": ""}]
    assert client.messages() == []


def test_fragments_with_inconsistent_totals_are_an_error(client: Client) -> None:
    """A client (or a bug in one) sends fragments of one id with different totals: the session
    must say so, not fail with an internal error."""
    client.send({"op": "fragment", "id": "f", "data": "a", "num": 3, "total": 5})
    client.send({"op": "fragment", "id": "f", "data": "b", "num": 4, "total": 5})
    client.send({"op": "fragment", "id": "f", "data": "c", "num": 0, "total": 3})
    status = client.status()  # asserts a status error that is not an internal error
    assert status["id"] == "f"


# -- bad frames -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ("this is not json", "not valid JSON"),
        ('{"op": "subscribe", ', "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('"subscribe"', "JSON object"),
        (b"\xff\x00", "not valid CBOR"),
        (cbor2.dumps([1, 2]), "JSON object"),
        ("{}", "missing field op"),
        ('{"op": "dance"}', "unknown op 'dance'"),
        ('{"op": 5}', "unknown op 5"),
        ('{"op": "subscribe", "topic": 5}', "field topic expects a string"),
        ('{"op": "subscribe", "topic": "/c", "type": 7}', "field type expects a string"),
        ('{"op": "subscribe", "topic": "/c", "throttle_rate": "fast"}', "throttle_rate"),
        ('{"op": "subscribe", "topic": "/c", "throttle_rate": -1}', "throttle_rate"),
        ('{"op": "subscribe", "topic": "/c", "queue_length": true}', "queue_length"),
        ('{"op": "subscribe", "topic": "/c", "queue_length": 1.5}', "queue_length"),
        ('{"op": "subscribe", "topic": "/c", "queue_length": -1}', "queue_length"),
        ('{"op": "subscribe", "topic": "/c", "fragment_size": 0}', "fragment_size"),
        ('{"op": "subscribe", "topic": "/c", "compression": 1}', "compression"),
        ('{"op": "subscribe", "topic": "/c", "id": {"a": 1}}', "field id"),
        ('{"op": "unsubscribe", "topic": ["/c"]}', "field topic"),
        ('{"op": "advertise", "topic": "/c", "type": "std_msgs/String", "latch": "yes"}', "latch"),
        ('{"op": "publish", "topic": "/c", "latch": 1, "msg": {}}', "latch"),
        ('{"op": "call_service", "service": "/s", "timeout": "soon"}', "timeout"),
        ('{"op": "service_response", "id": 1.5}', "field id"),
        ('{"op": "set_level", "level": null}', "missing field level"),
        ('{"op": "fragment", "id": "f", "data": 1, "num": 0, "total": 1}', "field data"),
        ('{"op": "fragment", "id": "f", "data": "x", "num": "0", "total": 1}', "field num"),
    ],
)
def test_a_bad_frame_is_reported_and_the_session_keeps_working(
    client: Client, bus: Bus, frame: Frame, expected: str
) -> None:
    client.session.receive(frame)
    assert expected in client.status()["msg"]
    client.send({"op": "subscribe", "topic": "/chatter", "type": STRING})
    bus.publish("/chatter", STRING, {"data": "still working"})
    assert client.messages() == [
        {"op": "publish", "topic": "/chatter", "msg": {"data": "still working"}}
    ]


def test_cbor_frames_are_accepted(client: Client, bus: Bus) -> None:
    client.session.receive(cbor2.dumps({"op": "subscribe", "topic": "/chatter", "type": STRING}))
    bus.publish("/chatter", STRING, {"data": "via cbor"})
    assert client.messages() == [
        {"op": "publish", "topic": "/chatter", "msg": {"data": "via cbor"}}
    ]


# -- close ------------------------------------------------------------------------------------


def test_close_undoes_everything_the_client_did(client: Client, bus: Bus, hub: Hub) -> None:
    client.send({"op": "subscribe", "topic": "/chatter", "type": STRING})
    client.send({"op": "subscribe", "id": "x", "topic": "/count", "type": INT32})
    client.send({"op": "advertise", "topic": "/out", "type": TWIST})
    client.send({"op": "advertise_service", "service": "/client/toggle", "type": SET_BOOL})
    assert client.messages() == []
    assert subscribers(bus, "/chatter") == subscribers(bus, "/count") == 1
    assert set(bus.topics()) == {"/chatter", "/count", "/out"}
    assert bus.services() == {"/client/toggle": SET_BOOL}

    client.session.close()
    assert client.session.closed
    assert bus.topics() == {}
    assert bus.services() == {}
    assert hub.feeds() == {}
    bus.publish("/chatter", STRING, {"data": "after close"})
    assert client.messages() == []
    client.session.close()  # idempotent


# -- who may do what ----------------------------------------------------------------------------

ALICE_TOKEN = "alice-token"
USERS = {
    "alice": {"role": "operator", "tokens": [hash_token(ALICE_TOKEN)]},
    "bob": {"role": "admin", "tokens": [hash_token("bob-token")]},
}


def test_a_viewer_cannot_publish_advertise_or_call(connect: Connect, bus: Bus) -> None:
    client = connect(role="viewer")
    inbox = Inbox()
    with bus.subscribe("/chatter", inbox, STRING):
        for op in (
            {"op": "advertise", "topic": "/chatter", "type": STRING},
            {"op": "publish", "topic": "/chatter", "msg": {"data": "x"}},
            {"op": "call_service", "service": "/toggle", "args": {"data": True}},
            {"op": "advertise_service", "service": "/mine", "type": SET_BOOL},
            {"op": "control", "action": "acquire"},
        ):
            client.send({**op, "id": "w"})
            status = client.status()
            assert status["id"] == "w"
            assert f"op {op['op']} needs role operator (you are viewer)" in status["msg"]
    assert inbox.items == []
    assert "/mine" not in bus.services()


def test_a_viewer_may_introspect_with_rosapi(connect: Connect, bus: Bus) -> None:
    bus.advertise("/odom", "nav_msgs/Odometry")
    client = connect(role="viewer")
    client.send({"op": "call_service", "id": "t", "service": "/rosapi/topics"})
    reply = client.expect(op="service_response", id="t")
    assert reply["result"] is True
    assert "/odom" in reply["values"]["topics"]
    client.send(
        {"op": "call_service", "id": "s", "service": "/rosapi/set_param",
         "args": {"name": "/x", "value": "1"}}
    )  # fmt: skip
    reply = client.expect(op="service_response", id="s")
    assert reply["result"] is False
    assert "needs role operator" in reply["values"]


def test_hidden_names_are_neither_listed_nor_reachable(connect: Connect, bus: Bus) -> None:
    bus.advertise("/odom", "nav_msgs/Odometry")
    bus.advertise("/secret/map", STRING)
    bus.set_param("/secret/key", "k")
    bus.set_param("/public", 1)
    settings = {
        "ROSWEB_DENY_TOPICS": ["/secret/*"],
        "ROSWEB_ROLES": {"viewer": {"deny_params": ["/secret/*"]}},
    }
    client = connect(role="viewer", settings=settings)
    client.send({"op": "call_service", "id": "t", "service": "/rosapi/topics"})
    topics = client.expect(op="service_response", id="t")["values"]["topics"]
    assert "/odom" in topics
    assert "/secret/map" not in topics
    client.send({"op": "call_service", "id": "p", "service": "/rosapi/get_param_names"})
    names = client.expect(op="service_response", id="p")["values"]["names"]
    assert "/public" in names
    assert "/secret/key" not in names
    client.send(
        {"op": "call_service", "id": "g", "service": "/rosapi/get_param",
         "args": {"name": "/secret/key"}}
    )  # fmt: skip
    assert client.expect(op="service_response", id="g")["values"]["value"] == "null"
    client.send({"op": "subscribe", "id": "s", "topic": "/secret/map"})
    status = client.status()
    assert status["id"] == "s"
    assert "topic /secret/map is not exposed to role viewer" in status["msg"]
    assert subscribers(bus, "/secret/map") == 0


def test_an_unauthenticated_client_may_only_authenticate(connect: Connect, bus: Bus) -> None:
    bus.advertise("/odom", "nav_msgs/Odometry")
    client = connect(role=None, settings={"ROSWEB_USERS": USERS})
    client.send({"op": "subscribe", "id": "s", "topic": "/odom"})
    assert "not authenticated" in client.status()["msg"]
    assert subscribers(bus, "/odom") == 0
    client.send({"op": "auth", "token": "wrong"})
    assert "invalid or unknown token" in client.status()["msg"]
    client.send({"op": "auth", "mac": "abc", "client": "x", "dest": "y"})
    assert "rosauth's mac is not supported" in client.status()["msg"]
    client.send({"op": "auth", "token": ALICE_TOKEN})
    assert client.messages() == [
        {"op": "auth", "result": True, "user": "alice", "role": "operator"}
    ]
    client.send({"op": "subscribe", "id": "s", "topic": "/odom"})
    assert client.messages() == []
    assert subscribers(bus, "/odom") == 1


def test_the_control_op_takes_the_lease_and_others_are_refused(
    connect: Connect, bus: Bus, control: Control
) -> None:
    alice, carol = connect(role="operator"), connect(role="operator")
    alice.send({"op": "control", "id": "c", "action": "acquire"})
    reply = alice.expect(op="control", id="c")
    assert reply["state"]["holder"] == "operator-user/c0"
    inbox = Inbox()
    with bus.subscribe("/cmd_vel", inbox):
        carol.send({"op": "publish", "id": "p", "topic": "/cmd_vel", "msg": {"linear": {"x": 0.2}}})
        status = carol.status()
        assert "operator-user is driving" in status["msg"]
        alice.send({"op": "publish", "topic": "/cmd_vel", "msg": {"linear": {"x": 0.2}}})
        wait_for(lambda: len(inbox) >= 1)
    assert inbox.items[0]["linear"]["x"] == pytest.approx(0.2)
    alice.send({"op": "control", "id": "r", "action": "release"})
    assert alice.expect(op="control", id="r")["state"]["holder"] is None


def test_a_driver_that_disconnects_stops_the_robot_at_once(
    connect: Connect, bus: Bus, control: Control
) -> None:
    client = connect(role="operator")
    inbox = Inbox()
    with bus.subscribe("/cmd_vel", inbox):
        client.send({"op": "publish", "topic": "/cmd_vel", "msg": {"linear": {"x": 0.3}}})
        wait_for(lambda: len(inbox) >= 1)
        client.session.close()
        assert len(inbox) == 2  # the stop was published by close() itself, not the deadman
    assert inbox.items[1]["linear"]["x"] == 0.0
    assert control.teleop.deadman_stops == 0


def test_a_client_over_the_rate_limit_is_held_back_briefly_not_refused(
    connect: Connect, bus: Bus
) -> None:
    """Over a per-second limit, a transport that can stop reading is told how long to (the
    client slows down, nothing is lost), with one warning a second; writes are counted as they
    are admitted (not when a blocking backend gets to them); over a per-minute limit the wait
    would be too long: the frame is refused as before."""
    client = connect(settings={"ROSWEB_WS_RATE_LIMIT": "5/second"})
    client.send({"op": "set_level", "level": "warning"})
    frame = json.dumps({"op": "publish", "topic": "/chatter", "msg": {"data": "x"}})
    advertise = json.dumps({"op": "advertise", "topic": "/chatter", "type": STRING})
    admitted = [client.session.admit(f) for f in [advertise] + [frame] * 4]
    assert admitted == [0.0] * 5  # counted, not handled yet
    delay = client.session.admit(frame)
    assert delay is not None
    assert 0.0 < delay <= 0.2 + 1e-6  # one write's worth at 5 a second
    (warning,) = client.messages()
    assert warning["level"] == "warning", warning
    assert "slowed down" in warning["msg"], warning
    assert client.session.admit(frame) > 0.0  # type: ignore[operator]  # no second warning
    for f in [advertise] + [frame] * 4:  # the five admitted: handled, not counted again
        client.session.receive(f)
    assert client.messages() == []
    assert client.session.admit(json.dumps({"op": "subscribe", "topic": "/chatter"})) == 0.0
    slow = connect(settings={"ROSWEB_WS_RATE_LIMIT": "1/minute"})
    slow.send({"op": "advertise", "topic": "/chatter", "type": STRING})
    assert slow.session.admit(frame) is None  # a minute's wait: refused instead
    assert "too many requests" in slow.status()["msg"]


def test_the_estop_refuses_motion_but_not_stops(
    connect: Connect, bus: Bus, control: Control
) -> None:
    client = connect(role="operator")
    control.engage_estop(user="someone")
    client.send({"op": "publish", "id": "p", "topic": "/cmd_vel", "msg": {"linear": {"x": 0.3}}})
    assert "e-stop is engaged (by someone)" in client.status()["msg"]
    client.send({"op": "publish", "id": "z", "topic": "/cmd_vel", "msg": {}})
    assert client.messages() == []


def test_writes_are_rate_limited_per_client(connect: Connect, bus: Bus) -> None:
    client = connect(settings={"ROSWEB_WS_RATE_LIMIT": "5/minute"})
    other = connect(settings={"ROSWEB_WS_RATE_LIMIT": "5/minute"})
    client.send({"op": "advertise", "topic": "/chatter", "type": STRING})
    for _ in range(4):
        client.send({"op": "publish", "topic": "/chatter", "msg": {"data": "x"}})
    assert client.messages() == []
    client.send({"op": "publish", "id": "6", "topic": "/chatter", "msg": {"data": "x"}})
    assert "too many requests" in client.status()["msg"]
    client.send({"op": "subscribe", "topic": "/chatter"})  # reads are not limited
    assert client.messages() == []
    other.send({"op": "advertise", "topic": "/chatter", "type": STRING})
    assert other.messages() == []
