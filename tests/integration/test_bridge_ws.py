"""The rosbridge endpoint and SSE over real sockets, through both transports.

``tornado``: the native handler of ``rosweb run``; ``flask-sock``: the Flask route under
Werkzeug's threaded server, as ``flask run`` serves it. Both must behave the same.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import cbor2
import pytest
import requests
import websocket

from helpers import Endpoint, assert_error, free_port, wait_for
from rosweb.server import Server
from rosweb.server.handlers import rosbridge_handlers, tornado_handlers
from rosweb.web import RosWeb, create_app

pytestmark = pytest.mark.integration


class Client:
    """A rosbridge client over a real WebSocket, collecting what the server sends."""

    def __init__(self, url: str, sockopt: tuple[tuple[int, int, int], ...] = ()) -> None:
        self.ws = websocket.create_connection(url, timeout=10, sockopt=sockopt)
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.reading = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while self.reading:
            try:
                opcode, data = self.ws.recv_data()
            except (websocket.WebSocketException, OSError):
                return
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return
            message = (
                cbor2.loads(data) if opcode == websocket.ABNF.OPCODE_BINARY else json.loads(data)
            )
            message["_binary"] = opcode == websocket.ABNF.OPCODE_BINARY
            with self.lock:
                self.received.append(message)

    def send(self, **message: Any) -> None:
        self.ws.send(json.dumps(message))

    def wait(self, match: Callable[[dict[str, Any]], bool], timeout: float = 10) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            with self.lock:
                return next((m for m in self.received if match(m)), None)

        return wait_for(find, timeout=timeout)

    def count(self, match: Callable[[dict[str, Any]], bool]) -> int:
        with self.lock:
            return sum(1 for m in self.received if match(m))

    def close(self) -> None:
        self.reading = False
        self.ws.close()


@pytest.fixture
def clients(endpoint: Endpoint) -> Iterator[Callable[[], Client]]:
    made: list[Client] = []

    def connect() -> Client:
        client = Client(endpoint.ws)
        made.append(client)
        return client

    yield connect
    for client in made:
        client.close()


def is_op(op: str, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m.get("op") == op and all(m.get(k) == v for k, v in fields.items())


def feeds(endpoint: Endpoint) -> dict[str, Any]:
    """The hub's feeds of the endpoint's robot (topic -> type, consumers, cached)."""
    report: dict[str, Any] = endpoint.state.robot.health()["feeds"]
    return report


def odom_x(endpoint: Endpoint) -> float:
    msg = requests.get(endpoint.url + "/api/topics/odom", timeout=5).json()["msg"]
    return float(msg["pose"]["pose"]["position"]["x"])


def test_subscribe_receives_messages(endpoint: Endpoint, clients: Callable[[], Client]) -> None:
    client = clients()
    client.send(op="subscribe", id="s1", topic="/odom", type="nav_msgs/Odometry")
    message = client.wait(is_op("publish", topic="/odom"))
    assert message["msg"]["header"]["frame_id"] == "odom"
    assert set(message["msg"]) == {"header", "child_frame_id", "pose", "twist"}


def test_publish_drives_the_robot_and_the_deadman_stops_it(
    endpoint: Endpoint, clients: Callable[[], Client]
) -> None:
    client = clients()
    start = odom_x(endpoint)
    for _ in range(5):
        client.send(op="publish", topic="/cmd_vel", msg={"linear": {"x": 0.5}})
        time.sleep(0.1)
    wait_for(lambda: odom_x(endpoint) > start + 0.1)
    robot = endpoint.state.robot.local
    stopped = wait_for(lambda: robot.teleop_info()["deadman_stops"] >= 1, timeout=3)
    assert stopped


def test_services_rosapi_and_errors(endpoint: Endpoint, clients: Callable[[], Client]) -> None:
    client = clients()
    client.send(op="call_service", id="c1", service="/reset")
    reply = client.wait(is_op("service_response", id="c1"))
    assert reply["result"] is True
    assert reply["values"]["success"] is True
    client.send(op="call_service", id=7, service="/rosapi/topics")
    topics = client.wait(is_op("service_response", id=7))["values"]
    assert dict(zip(topics["topics"], topics["types"], strict=True))["/odom"] == "nav_msgs/Odometry"
    client.send(op="publish", id="p1", topic="/cmd_vel", msg={"linear": {"x": "fast"}})
    status = client.wait(is_op("status", id="p1"))
    assert status["level"] == "error"
    assert "msg.linear.x" in status["msg"]
    client.ws.send("{not json")
    client.wait(lambda m: m.get("op") == "status" and "JSON" in m["msg"])
    client.send(op="teleport", id="t1")
    assert "unknown op" in client.wait(is_op("status", id="t1"))["msg"]


def test_a_browser_can_provide_a_service(endpoint: Endpoint, clients: Callable[[], Client]) -> None:
    provider = clients()
    provider.send(op="advertise_service", service="/client/toggle", type="std_srvs/SetBool")
    wait_for(lambda: "/client/toggle" in endpoint.graph.services())
    answer: dict[str, Any] = {}

    def call_over_rest() -> None:
        reply = requests.post(
            endpoint.url + "/api/services/client/toggle", json={"data": True}, timeout=10
        )
        answer.update(reply.json())

    caller = threading.Thread(target=call_over_rest)
    caller.start()
    request = provider.wait(is_op("call_service", service="/client/toggle"))
    assert request["args"] == {"data": True}
    values = {"success": True, "message": "toggled by the browser"}
    provider.send(op="service_response", id=request["id"], service="/client/toggle",
                  values=values, result=True)  # fmt: skip
    caller.join(10)
    assert answer["response"] == {"success": True, "message": "toggled by the browser"}


def test_cbor_subscription_sends_binary_frames(
    endpoint: Endpoint, clients: Callable[[], Client]
) -> None:
    client = clients()
    client.send(op="subscribe", topic="/camera/image_raw", compression="cbor", queue_length=1)
    frame = client.wait(is_op("publish", topic="/camera/image_raw"))
    assert frame["_binary"] is True
    assert isinstance(frame["msg"]["data"], bytes)
    assert len(frame["msg"]["data"]) == frame["msg"]["height"] * frame["msg"]["step"]


def test_many_clients_share_one_backend_subscription(
    endpoint: Endpoint, clients: Callable[[], Client]
) -> None:
    group = [clients() for _ in range(5)]
    for client in group:
        client.send(op="subscribe", topic="/scan")
    for client in group:
        client.wait(is_op("publish", topic="/scan"))
    feed = feeds(endpoint)["/scan"]
    assert feed["consumers"] == 5
    assert len(endpoint.graph._topics["/scan"].subscribers) == 1  # type: ignore[attr-defined]


def test_every_client_of_a_burst_gets_every_message_in_order(
    endpoint: Endpoint, clients: Callable[[], Client]
) -> None:
    """One message for many clients wakes the loop once (rosweb.server.bridge.Flushes): no
    client's flush is lost in a burst, and each gets the messages in the order they came."""
    group = [clients() for _ in range(12)]
    for client in group:
        client.send(op="subscribe", id="b", topic="/burst", type="std_msgs/String",
                    queue_length=500)  # fmt: skip
    wait_for(lambda: feeds(endpoint).get("/burst", {}).get("consumers") == len(group))
    sender = clients()
    sender.send(op="advertise", topic="/burst", type="std_msgs/String")
    for i in range(300):
        sender.send(op="publish", topic="/burst", msg={"data": f"m{i}"})
    expected = [f"m{i}" for i in range(300)]
    for client in group:
        wait_for(lambda c=client: c.count(is_op("publish", topic="/burst")) >= 300, timeout=20)
        with client.lock:
            got = [m["msg"]["data"] for m in client.received if is_op("publish", topic="/burst")(m)]
        assert got == expected


def test_camera_frames_a_socket_takes_in_part_arrive_whole() -> None:
    """rosweb run writes a socket directly while Tornado holds nothing for it: a client with a
    small receive buffer stops reading for 2 s, the server's socket fills up and takes a frame
    in part, and the rest follows through Tornado's stream, in order: the frames after those
    the kernel's buffers held (a few MB) all arrive whole."""
    app = create_app({"TESTING": True, "ROSWEB_WS_STALL_TIMEOUT": 10.0})
    server = Server(app, "127.0.0.1", 0, threads=8, handlers=tornado_handlers(app))
    server.start()
    ws_url = server.url.replace("http", "ws") + "/ws"
    client = Client(ws_url, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 8192),))
    camera = is_op("publish", topic="/camera/image_raw")
    try:
        client.send(op="subscribe", topic="/camera/image_raw", queue_length=2)
        client.wait(camera)
        with client.lock:  # its reader blocks at the next message
            time.sleep(2.0)
            before = len(client.received)
        wait_for(lambda: client.count(camera) >= before + 40, timeout=30)
        with client.lock:
            frames = [m["msg"] for m in client.received if camera(m)]
    finally:
        client.close()
        server.stop()
        RosWeb.close(app)
    for msg in frames:
        assert len(base64.b64decode(msg["data"])) == msg["height"] * msg["step"] > 200_000


def test_a_client_that_stops_reading_is_dropped_without_hurting_others(
    endpoint: Endpoint, clients: Callable[[], Client]
) -> None:
    stalled = clients()
    stalled.reading = False  # never read again: its socket buffers fill up
    stalled.send(op="subscribe", topic="/camera/image_raw", queue_length=1)
    healthy = clients()
    healthy.send(op="subscribe", topic="/odom")
    healthy.wait(is_op("publish", topic="/odom"))
    seq = healthy.count(is_op("publish", topic="/odom"))
    time.sleep(3)  # the camera sends ~200 KB frames at 15 Hz into a socket nobody reads
    assert healthy.count(is_op("publish", topic="/odom")) - seq > 50  # ~50 Hz kept flowing
    # the stalled one is disconnected (stall timeout 1 s): its hub consumer is gone
    wait_for(lambda: feeds(endpoint).get("/camera/image_raw", {}).get("consumers", 0) == 0, 15)


def test_server_sent_events(endpoint: Endpoint) -> None:
    with requests.get(
        endpoint.url + "/api/topics/odom/events?throttle_rate=100", stream=True, timeout=10
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = []
        for line in r.iter_lines(decode_unicode=True):
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
            if len(events) == 3:
                break
    assert all(e["header"]["frame_id"] == "odom" for e in events)
    seqs = [e["header"]["seq"] for e in events]
    assert seqs[1] - seqs[0] >= 3  # 50 Hz topic, throttled to 10 Hz
    assert_error(
        requests.get(endpoint.url + "/api/topics/nope/events", timeout=5), 404, "not_found"
    )


def test_rosbridge_port_serves_the_root_path() -> None:
    app = create_app({"TESTING": True})
    port = free_port()
    server = Server(app, "127.0.0.1", 0, extra_ports={port: rosbridge_handlers(app)})
    server.start()
    try:
        client = Client(f"ws://127.0.0.1:{port}")
        client.send(op="call_service", id="n", service="/rosapi/nodes")
        assert client.wait(is_op("service_response", id="n"))["values"]["nodes"] == [
            "/rosweb",
            "/sim_robot",
        ]
        client.close()
    finally:
        server.stop()
        RosWeb.close(app)
