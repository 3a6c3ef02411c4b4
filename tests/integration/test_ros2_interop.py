"""ros2:// against an independent rmw_zenoh peer, zenoh-ros2-sdk (PyPI), on rosweb's own router.

zenoh-ros2-sdk implements rmw_zenoh's protocol on its own (its own key expressions, tokens,
attachments, type hashes); these tests check that each side sees and understands the other. The
SDK keeps one Zenoh session per process, so every SDK entity here uses the session router of the
``router`` fixture. Offline, the SDK needs message definitions passed explicitly.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import websocket

from helpers import LiveServer, free_port, wait_for
from rosweb.graph.ros2 import Ros2Graph
from rosweb.messages import from_json

zenoh_ros2_sdk = pytest.importorskip("zenoh_ros2_sdk")  # in the test extras: a failure, not a skip
from zenoh_ros2_sdk import (  # noqa: E402
    ROS2Publisher,
    ROS2ServiceClient,
    ROS2ServiceServer,
    ROS2Subscriber,
)
from zenoh_ros2_sdk.qos import QosDurability, QosProfile  # noqa: E402

pytestmark = pytest.mark.integration

STRING = "std_msgs/msg/String"
STRING_DEF = "string data\n"


@pytest.fixture(scope="module")
def router() -> Iterator[tuple[Ros2Graph, int]]:
    """rosweb's node with the embedded router (for the module); the SDK connects to it."""
    port = free_port()
    graph = Ros2Graph(f"ros2://127.0.0.1:{port}?router=embedded&node=/rosweb_interop")
    yield graph, port
    from zenoh_ros2_sdk.session import ZenohSession

    sdk = ZenohSession._instance  # the SDK's one session: a Zenoh session left open hangs exit
    if sdk is not None:
        sdk.session.close()
        ZenohSession._instance = None
    graph.close()


@pytest.fixture
def served(router: tuple[Ros2Graph, int], serve: Any) -> LiveServer:
    """rosweb's web app on a second ros2:// node of the same router."""
    _, port = router
    graph = Ros2Graph(f"ros2://127.0.0.1:{port}?node=/rosweb_web")
    live: LiveServer = serve(graph=graph, own=True)
    return live


def _names(n: int = 0) -> str:
    return f"/interop/t{time.monotonic_ns()}_{n}"


def test_sdk_publisher_reaches_rosweb_rest(
    router: tuple[Ros2Graph, int], served: LiveServer
) -> None:
    _, port = router
    topic = _names()
    pub = ROS2Publisher(topic, STRING, msg_definition=STRING_DEF, router_port=port)
    try:

        def listed() -> dict[str, str]:
            topics = requests.get(f"{served.url}/api/topics", timeout=5).json()["topics"]
            return {t["name"]: t["type"] for t in topics}

        wait_for(lambda: topic in listed())
        assert listed()[topic] == STRING

        def latest() -> Any:
            pub.publish(data="from the sdk")
            answer = requests.get(f"{served.url}/api/topics{topic}?timeout=0.2", timeout=5)
            return answer.json() if answer.status_code == 200 else None

        body = wait_for(latest, timeout=10)
        assert body["type"] == STRING
        assert body["msg"] == {"data": "from the sdk"}
    finally:
        pub.close()


def test_sdk_publisher_reaches_a_websocket_subscriber(
    router: tuple[Ros2Graph, int], served: LiveServer
) -> None:
    _, port = router
    topic = _names()
    pub = ROS2Publisher(topic, STRING, msg_definition=STRING_DEF, router_port=port)
    ws = websocket.create_connection(served.url.replace("http", "ws") + "/ws", timeout=10)
    try:
        ws.send(json.dumps({"op": "subscribe", "topic": topic, "type": "std_msgs/String"}))
        stop = threading.Event()

        def keep_publishing() -> None:
            while not stop.wait(0.05):
                pub.publish(data="over the bridge")

        threading.Thread(target=keep_publishing, daemon=True).start()
        try:
            frame = json.loads(ws.recv())
            while frame.get("op") != "publish":
                frame = json.loads(ws.recv())
        finally:
            stop.set()
        assert frame["topic"] == topic
        assert frame["msg"] == {"data": "over the bridge"}
    finally:
        ws.close()
        pub.close()


def test_rosweb_publish_reaches_sdk_subscriber(router: tuple[Ros2Graph, int]) -> None:
    graph, port = router
    topic = _names()
    got: list[Any] = []
    sub = ROS2Subscriber(topic, STRING, got.append, msg_definition=STRING_DEF, router_port=port)
    try:
        msg = from_json(graph.types, STRING, {"data": "from rosweb"})

        def arrived() -> bool:
            graph.publish(topic, "std_msgs/String", msg)  # the ROS 1 short form is accepted
            time.sleep(0.05)
            return bool(got)

        wait_for(arrived, timeout=10)
        assert got[0].data == "from rosweb"
    finally:
        sub.close()


def test_sdk_listing_sees_rosweb_entities(router: tuple[Ros2Graph, int]) -> None:
    graph, port = router
    topic, service = _names(1), _names(2)
    with (
        graph.advertise(topic, "geometry_msgs/msg/Twist"),
        graph.provide_service(service, "std_srvs/srv/SetBool", lambda r: {"success": True}),
    ):
        command = [sys.executable, "-m", "zenoh_ros2_sdk.cli", "--router", f"127.0.0.1:{port}",
                   "--no-daemon", "--timeout", "3"]  # fmt: skip

        def listed(*args: str) -> str:
            return subprocess.run(
                [*command, *args], capture_output=True, text=True, timeout=60, check=True
            ).stdout

        # a one-shot snapshot that may run before its session has reached the router: rerun it
        topics = wait_for(lambda: listed("topic", "list", "-t"), timeout=30)
        assert f"{topic} [geometry_msgs/msg/Twist]" in topics
        services = wait_for(lambda: listed("service", "list", "-t"), timeout=30)
        assert f"{service} [std_srvs/srv/SetBool]" in services
        # rosweb's node serves its parameters as every ROS 2 node does
        assert "/rosweb_interop/get_parameters [rcl_interfaces/srv/GetParameters]" in services


def test_rosweb_calls_an_sdk_service(router: tuple[Ros2Graph, int]) -> None:
    graph, port = router
    name = _names()
    holder: list[Any] = []
    server = ROS2ServiceServer(
        name, "example_interfaces/srv/AddTwoInts",
        callback=lambda request: holder[0].response_msg_class(sum=request.a + request.b),
        request_definition="int64 a\nint64 b\n", response_definition="int64 sum\n",
        router_port=port,
    )  # fmt: skip
    holder.append(server)
    try:
        wait_for(lambda: name in graph.services())
        assert graph.services()[name] == "example_interfaces/srv/AddTwoInts"
        assert graph.call_service(name, {"a": 40, "b": 2}, timeout=5) == {"sum": 42}
    finally:
        server.close()


def test_sdk_calls_a_rosweb_service(router: tuple[Ros2Graph, int]) -> None:
    graph, port = router
    name = _names()
    with graph.provide_service(
        name, "example_interfaces/srv/AddTwoInts", lambda r: {"sum": r["a"] * 1000 + r["b"]}
    ):
        client = ROS2ServiceClient(
            name, "example_interfaces/srv/AddTwoInts", request_definition="int64 a\nint64 b\n",
            response_definition="int64 sum\n", router_port=port, timeout=5,
        )  # fmt: skip
        try:
            response = wait_for(lambda: client.call(a=7, b=3), timeout=10)
            assert response.sum == 7003
        finally:
            client.close()


def test_latched_message_reaches_a_late_sdk_subscriber(router: tuple[Ros2Graph, int]) -> None:
    graph, port = router
    # one chunk: the SDK's late-joiner lookup does not mangle the slashes of deeper names
    topic = f"/latched_{time.monotonic_ns()}"
    graph.publish(topic, STRING, {"data": "the map"}, latch=True)
    time.sleep(0.3)  # the publisher's token has reached the router before the subscriber asks
    got: list[Any] = []
    latched = QosProfile(durability=QosDurability.TRANSIENT_LOCAL, history_depth=1)
    sub = ROS2Subscriber(
        topic, STRING, got.append, msg_definition=STRING_DEF, router_port=port, qos=latched
    )
    try:
        wait_for(lambda: got, timeout=5)  # published before the subscriber existed
        assert [m.data for m in got] == ["the map"]
    finally:
        sub.close()


def test_type_hashes_and_cdr_bytes_match_the_sdk(router: tuple[Ros2Graph, int]) -> None:
    """What the SDK puts on the wire is what rosweb puts there: same key (type hash), same CDR."""
    graph, port = router
    topic = _names()
    seen: dict[str, list[tuple[str, bytes]]] = {"sdk": [], "rosweb": []}
    session = graph.node.session
    sdk_pub = ROS2Publisher(topic, STRING, msg_definition=STRING_DEF, router_port=port)
    probe = session.declare_subscriber(
        f"0/{topic.strip('/')}/**",
        lambda s: seen["sdk" if s.attachment and _gid(s) == sdk_pub.publisher_gid else "rosweb"]
        .append((str(s.key_expr), s.payload.to_bytes())),
    )  # fmt: skip
    try:
        msg = from_json(graph.types, STRING, {"data": "same bytes"})

        def both() -> bool:
            sdk_pub.publish(data="same bytes")
            graph.publish(topic, STRING, msg)
            time.sleep(0.05)
            return bool(seen["sdk"] and seen["rosweb"])

        wait_for(both, timeout=10)
        assert seen["sdk"][0] == seen["rosweb"][0]
        assert seen["sdk"][0][0].endswith(graph.types.type_hash(STRING))
        assert sdk_pub.type_hash == graph.types.type_hash(STRING)
        reference = graph.types.rosbags
        assert seen["rosweb"][0][1] == bytes(
            reference.serialize_cdr(reference.types[STRING](data="same bytes"), STRING)
        )
    finally:
        probe.undeclare()  # type: ignore[no-untyped-call]
        sdk_pub.close()


def _gid(sample: Any) -> bytes:
    raw = sample.attachment.to_bytes()
    return bytes(raw[17 : 17 + raw[16]])
