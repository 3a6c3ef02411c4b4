"""``rosweb.Client`` and ``AsyncClient`` against real servers on loopback (sim, and ros1)."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import itertools
import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from tornado.routing import Rule

from helpers import LiveServer, RosMaster, free_port, wait_for
from rosweb import AsyncClient, Client
from rosweb.errors import (
    AuthError,
    ClientConnectionError,
    ClientTimeout,
    NotFoundError,
    PermissionDenied,
    RosWebError,
    ServiceError,
    TypeMismatchError,
    UnknownTypeError,
    ValidationError,
)
from rosweb.server import Server
from rosweb.server.bridge import BridgeWebSocket
from rosweb.server.handlers import tornado_handlers
from rosweb.web import RosWeb, create_app

pytestmark = pytest.mark.integration


@pytest.fixture
def robot(live_server: LiveServer) -> Iterator[Client]:
    with Client(live_server.url) as client:
        yield client


def position(robot: Client) -> dict[str, float]:
    result: dict[str, float] = robot.latest("/odom")["pose"]["pose"]["position"]
    return result


# -- REST -----------------------------------------------------------------------------------------


def test_names_and_types_of_the_graph(robot: Client) -> None:
    assert robot.topics()["/odom"] == "nav_msgs/Odometry"
    assert robot.services()["/reset"] == "std_srvs/Trigger"
    assert robot.nodes()
    assert "geometry_msgs/Twist" in robot.types()["messages"]
    fields = [f["name"] for f in robot.schema("geometry_msgs/Twist")["fields"]]
    assert fields == ["linear", "angular"]
    assert robot.service_info("/reset")["type"] == "std_srvs/Trigger"
    assert robot.health()["ok"] is True


def test_latest_gives_uint8_arrays_as_bytes(robot: Client, live_server: LiveServer) -> None:
    image = robot.latest("/camera/image_raw")
    assert isinstance(image["data"], bytes)
    assert len(image["data"]) == image["step"] * image["height"] > 0
    with Client(live_server.url, decode=False) as raw:
        as_sent = raw.latest("/camera/image_raw")
    assert isinstance(as_sent["data"], str)
    assert len(base64.b64decode(as_sent["data"])) == len(image["data"])


def test_publish_then_latest_round_trip_with_bytes(robot: Client) -> None:
    robot.publish("/blob", {"data": b"\x00\x01\xff"}, "std_msgs/UInt8MultiArray", latch=True)
    msg = wait_for(lambda: robot.latest("/blob"))
    assert msg["data"] == b"\x00\x01\xff"
    assert msg["layout"] == {"dim": [], "data_offset": 0}  # defaults filled


def test_teleop_moves_the_robot_and_stop_stops_it(robot: Client) -> None:
    robot.call("/reset")
    start = position(robot)["x"]
    assert robot.teleop_info()["commands"] == ["forward", "back", "left", "right", "stop"]
    twist = robot.teleop("forward", speed=1.0)["twist"]
    assert twist["linear"]["x"] > 0
    wait_for(lambda: robot.teleop("forward") and position(robot)["x"] > start + 0.05)
    robot.stop()
    wait_for(lambda: robot.latest("/odom")["twist"]["twist"]["linear"]["x"] == 0.0)


def test_call_a_service(robot: Client) -> None:
    assert robot.call("/robot/headlights", {"data": True}) == {
        "success": True,
        "message": "headlights on",
    }
    assert robot.params["/robot/headlights"] is True
    assert robot.call("/reset")["success"] is True


def test_params_are_a_mutable_mapping(robot: Client) -> None:
    params = robot.params
    assert "/robot/max_linear_speed" in list(params)
    assert len(params) == len(params.names())
    params["/robot/max_linear_speed"] = 0.5
    assert params["/robot/max_linear_speed"] == 0.5
    assert params["robot"]["max_linear_speed"] == 0.5  # a namespace reads as a dict
    params["/mine/gains"] = {"p": 1.5, "i": [1, 2]}
    assert params["/mine/gains/i"] == [1, 2]
    assert params.get("/nope", "default") == "default"
    assert "/nope" not in params
    del params["/mine"]
    with pytest.raises(KeyError):
        params["/mine/gains"]
    with pytest.raises(KeyError):
        del params["/mine"]
    with pytest.raises(ValidationError) as refused:
        params["/robot/max_linear_speed"] = "fast"
    assert refused.value.field == "/robot/max_linear_speed"
    assert "/robot/max_linear_speed" in params.meta()


def test_server_errors_come_back_as_rosweb_errors(robot: Client) -> None:
    with pytest.raises(ValidationError) as bad:
        robot.publish("/cmd_vel", {"linear": {"x": "fast"}})
    assert bad.value.field == "linear.x"
    assert "expects float64" in str(bad.value)
    with pytest.raises(NotFoundError) as missing:
        robot.latest("/nope")
    assert (missing.value.kind, missing.value.name) == ("topic", "/nope")
    with pytest.raises(NotFoundError):
        robot.call("/nope")
    with pytest.raises(TypeMismatchError):
        robot.publish("/odom", {}, "std_msgs/String")
    with pytest.raises(UnknownTypeError):
        robot.schema("nope_msgs/Nope")
    with pytest.raises(ValidationError) as teleop:
        robot.teleop("jump")
    assert teleop.value.field is not None or "jump" in str(teleop.value)


def test_service_failure_is_a_service_error(live_server: LiveServer) -> None:
    def broken(request: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("the arm is stuck")

    live_server.graph.provide_service("/arm/home", "std_srvs/Trigger", broken)
    with Client(live_server.url) as robot, pytest.raises(ServiceError) as failed:
        robot.call("/arm/home")
    assert "the arm is stuck" in str(failed.value)


def test_unreachable_server_is_a_connection_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with Client(url) as robot:
        with pytest.raises(ClientConnectionError) as lost:
            robot.topics()
        assert str(lost.value).startswith(f"cannot reach rosweb at {url}")
        with pytest.raises(ClientConnectionError), robot.subscribe("/odom") as subscription:
            next(subscription)


# -- streams --------------------------------------------------------------------------------------


def test_subscribe_with_throttle_and_limit(robot: Client) -> None:
    with robot.subscribe("/odom", throttle_rate=100, limit=5) as subscription:
        messages = list(subscription)
    assert len(messages) == 5
    assert subscription.closed
    stamps = [m["header"]["stamp"]["secs"] + m["header"]["stamp"]["nsecs"] / 1e9 for m in messages]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) >= 0.09, gaps  # odom is 50 Hz: the server kept one in five or so


def test_two_subscriptions_to_one_topic_each_get_their_messages(robot: Client) -> None:
    fast = robot.subscribe("/odom", limit=10)
    slow = robot.subscribe("/odom", throttle_rate=200, limit=2)
    assert len(list(slow)) == 2
    assert len(list(fast)) == 10


def test_subscription_timeout(robot: Client) -> None:
    with robot.subscribe("/silent", "std_msgs/String", timeout=0.3) as subscription:
        with pytest.raises(ClientTimeout):
            next(subscription)
        robot.publish("/silent", {"data": "now"})
        assert wait_for(lambda: _next_or_none(subscription)) == {"data": "now"}


def _next_or_none(subscription: Any) -> Any:
    try:
        return next(subscription)
    except ClientTimeout:
        return None


def serve(port: int, **config: Any) -> tuple[Server, Any]:
    app = create_app({"TESTING": True, **config})
    server = Server(app, "127.0.0.1", port, threads=8, handlers=tornado_handlers(app))
    server.start()
    return server, app


def test_subscription_survives_a_server_restart() -> None:
    port = free_port()
    server, app = serve(port)
    try:
        with Client(server.url) as robot:
            subscription = robot.subscribe("/chatter", "std_msgs/String", timeout=1)
            robot.publish("/chatter", {"data": "one"}, "std_msgs/String")
            assert next(subscription) == {"data": "one"}
            server.stop()
            RosWeb.close(app)
            server, app = serve(port)  # a new server and robot on the same port

            def said_two() -> bool:
                robot.publish("/chatter", {"data": "two"}, "std_msgs/String")
                return _next_or_none(subscription) == {"data": "two"}

            wait_for(said_two, timeout=30)  # the same iterator, resubscribed on the new server
            assert robot._streams is not None
            assert robot._streams.connections == 2
            subscription.close()
    finally:
        server.stop()
        RosWeb.close(app)


def test_no_reconnect_ends_the_subscription_with_an_error() -> None:
    server, app = serve(free_port())
    try:
        with Client(server.url, reconnect=False) as robot:
            subscription = robot.subscribe("/odom", timeout=30)
            next(subscription)
            server.stop()
            with pytest.raises(ClientConnectionError):
                list(subscription)  # what was queued, then the error
    finally:
        RosWeb.close(app)


# -- the auth contract ----------------------------------------------------------------------------

TOKEN = "s3cret"


class _TokenBridge(BridgeWebSocket):
    """The bridge behind a token check on ``?token=``, as the server's auth will do it."""

    async def get(self, *args: Any, **kwargs: Any) -> None:
        if self.get_query_argument("token", None) != TOKEN:
            self.set_status(401)
            self.finish({"error": {"code": "unauthorized", "message": "bad token"}})
            return
        await super().get(*args, **kwargs)


@pytest.fixture
def guarded() -> Iterator[str]:
    """A real server that wants ``Bearer s3cret`` on REST (403 for DELETE) and ``?token=``."""
    app = create_app({"TESTING": True})

    @app.before_request
    def check() -> Any:
        from flask import jsonify, request

        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return jsonify(error={"code": "unauthorized", "message": "bad token"}), 401
        if request.method == "DELETE":
            return jsonify(error={"code": "forbidden", "message": "viewers cannot"}), 403
        return None

    handlers: list[Any] = [
        Rule(h.matcher, _TokenBridge, h.target_kwargs) if h.target is BridgeWebSocket else h
        for h in tornado_handlers(app)
    ]
    server = Server(app, "127.0.0.1", 0, threads=8, handlers=handlers)
    server.start()
    yield server.url
    server.stop()
    RosWeb.close(app)


def test_token_goes_as_bearer_and_on_the_websocket(guarded: str) -> None:
    with Client(guarded, token=TOKEN) as robot:
        assert "/odom" in robot.topics()
        assert next(robot.subscribe("/odom"))["child_frame_id"] == "base_link"
        with pytest.raises(PermissionDenied):
            del robot.params["/robot/headlights"]
    with Client(guarded, token="wrong") as robot:
        with pytest.raises(AuthError, match="bad token"):
            robot.topics()
        with pytest.raises(AuthError):
            next(robot.subscribe("/odom"))
    assert issubclass(AuthError, RosWebError)


# -- asyncio --------------------------------------------------------------------------------------


def test_async_client(live_server: LiveServer) -> None:
    async def session() -> None:
        async with AsyncClient(live_server.url) as robot:
            assert (await robot.topics())["/odom"] == "nav_msgs/Odometry"
            image = await robot.latest("/camera/image_raw")
            assert isinstance(image["data"], bytes)
            subscription = await robot.subscribe("/odom", throttle_rate=50, limit=3)
            messages = [msg async for msg in subscription]
            assert len(messages) == 3
            assert subscription.closed
            await robot.params.set("/robot/max_linear_speed", 0.7)
            assert await robot.params.get("/robot/max_linear_speed") == 0.7
            assert await robot.params.get("/nope", 1) == 1
            assert "/robot/headlights" in await robot.params.names()
            assert (await robot.call("/reset"))["success"] is True
            assert (await robot.teleop("forward"))["twist"]["linear"]["x"] > 0
            await robot.stop()
            with pytest.raises(ValidationError):
                await robot.publish("/cmd_vel", {"linear": {"x": "fast"}})

    # in a thread of its own: the e2e suite's Playwright (sync API) keeps an event loop running in
    # the main thread for the whole session
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, session()).result()


# -- ROS 1 ----------------------------------------------------------------------------------------

PEER = """
import rospy
from std_msgs.msg import String
from std_srvs.srv import SetBool, SetBoolResponse

rospy.init_node("client_peer")
pub = rospy.Publisher("/peer_out", String, queue_size=10)
rospy.Subscriber("/peer_in", String, lambda msg: pub.publish(String(data=msg.data.upper())))
rospy.Service("/peer/flag", SetBool, lambda req: SetBoolResponse(success=req.data, message="ok"))
print("ready", flush=True)
rospy.spin()
"""


def test_client_round_trip_through_ros1(
    ros_master: RosMaster, processes: list[subprocess.Popen[str]]
) -> None:
    peer = subprocess.Popen(
        ["/usr/bin/python3", "-c", PEER],
        env=ros_master.env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    processes.append(peer)
    assert peer.stdout is not None
    assert peer.stdout.readline().strip() == "ready"
    server, app = serve(0, ROSWEB_BACKEND="ros1://?linger=0.5")
    try:
        with Client(server.url) as robot:
            wait_for(lambda: "/peer_out" in robot.topics(), timeout=20)
            with robot.subscribe("/peer_out", timeout=0.25) as replies:
                # the peer answers each /peer_in with its upper case on /peer_out (once the
                # peer's subscriber is connected: publish until an answer comes). Asked more
                # often than the publisher's linger (0.5 s), so one publisher stays registered
                # and the peer connects to it once: asked every second, each publish made a new
                # publisher, and the answer took 19.5 s of the 20 s allowed
                def ask() -> Any:
                    robot.publish("/peer_in", {"data": "hi"}, "std_msgs/String")
                    return _next_or_none(replies)

                assert wait_for(ask, timeout=20) == {"data": "HI"}
            answer = wait_for(lambda: _call_when_up(robot, "/peer/flag", {"data": True}), 20)
            assert answer == {"success": True, "message": "ok"}
            robot.params["/client_test/gain"] = 2.5
            assert robot.params["/client_test/gain"] == 2.5
            assert json.dumps(robot.nodes())
    finally:
        server.stop()
        RosWeb.close(app)


def _call_when_up(robot: Client, service: str, request: dict[str, Any]) -> Any:
    try:
        return robot.call(service, request)
    except NotFoundError:
        return None
