"""rosweb on a real ROS 1 graph: a private rosmaster, rospy peers, the ROS command-line tools.

The master-restart test runs last in this module: it kills and restarts the session's master.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from helpers import LiveServer, RosMaster, assert_error, free_port, wait_for
from rosweb.server import Server
from rosweb.web import RosWeb, create_app

pytestmark = pytest.mark.integration

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's python3-rospy is built for it
BIN = Path(sys.executable).parent

PEER = """
import rospy
from std_msgs.msg import Int32
from std_srvs.srv import SetBool, SetBoolResponse, Trigger

rospy.init_node("peer")
pub = rospy.Publisher("/peer_counter", Int32, queue_size=10)
rospy.Service("/peer/set_flag", SetBool,
              lambda req: SetBoolResponse(success=req.data, message="peer got %s" % req.data))

def broken(req):
    raise RuntimeError("peer is broken")

rospy.Service("/peer/broken", Trigger, broken)
print("ready", flush=True)
rate = rospy.Rate(10)
count = 0
while not rospy.is_shutdown():
    pub.publish(count)
    count += 1
    rate.sleep()
"""


@pytest.fixture
def ros1_server(ros_master: RosMaster) -> Iterator[LiveServer]:
    app = create_app({"TESTING": True, "ROSWEB_BACKEND": "ros1://?linger=0.5"})
    server = Server(app, "127.0.0.1", 0, threads=8)
    server.start()
    yield LiveServer(app, server, None)
    server.stop()
    RosWeb.close(app)


def spawn(
    processes: list[subprocess.Popen[str]], master: RosMaster, args: list[str], **kwargs: object
) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        args,
        env=master.env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        **kwargs,  # type: ignore[call-overload]
    )
    processes.append(proc)
    return proc


def ros_tool(
    master: RosMaster, *args: str, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), env=master.env(), capture_output=True, text=True, timeout=timeout
    )


def master_nodes(master: RosMaster) -> list[str]:
    with xmlrpc.client.ServerProxy(master.uri) as proxy:
        _, _, state = proxy.getSystemState("/test")
    return sorted({node for kind in state for _, nodes in kind for node in nodes})


def echo_until_output(
    processes: list[subprocess.Popen[str]],
    master: RosMaster,
    topic: str,
    keep_sending: object,
    timeout: float = 20,
) -> str:
    """Run ``rostopic echo -n1 topic`` while ``keep_sending()`` publishes; its output."""
    echo = spawn(processes, master, ["rostopic", "echo", "-n1", topic])
    deadline = time.monotonic() + timeout
    while echo.poll() is None and time.monotonic() < deadline:
        keep_sending()  # type: ignore[operator]
        time.sleep(0.1)
    output, _ = echo.communicate(timeout=5)
    assert echo.returncode == 0, output
    return output


def get(server: LiveServer, path: str) -> requests.Response:
    return requests.get(server.url + path, timeout=10)


def post(server: LiveServer, path: str, body: object) -> requests.Response:
    return requests.post(server.url + path, json=body, timeout=10)


# -- the session of the issue ---------------------------------------------------------------------


def test_teleop_reaches_a_ros_subscriber(
    ros1_server: LiveServer, ros_master: RosMaster, processes: list[subprocess.Popen[str]]
) -> None:
    output = echo_until_output(
        processes, ros_master, "/cmd_vel",
        lambda: post(ros1_server, "/api/teleop", {"command": "forward"}),
    )  # fmt: skip
    assert "linear:" in output
    assert "x: 0.3" in output


def test_rostopic_pub_is_read_over_rest_while_it_holds_the_message(
    ros1_server: LiveServer, ros_master: RosMaster, processes: list[subprocess.Popen[str]]
) -> None:
    # README's session: `rostopic pub -1` latches for 3 s; rosweb subscribes at the GET (the
    # default ROSWEB_CACHE_TOPICS=auto receives a real robot's topics only when asked for)
    spawn(processes, ros_master, ["rostopic", "pub", "-1", "/chatter", "std_msgs/String",
                                  "data: hi"])  # fmt: skip
    wait_for(lambda: "/chatter" in get(ros1_server, "/api/topics").text, timeout=10)
    [before] = get(ros1_server, "/api/stats/topics?topic=/chatter").json()["topics"]
    assert before["subscribed"] is False  # nobody asked yet: not received
    response = get(ros1_server, "/api/topics/chatter")
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "std_msgs/String"
    assert response.json()["msg"] == {"data": "hi"}


def test_a_cached_topic_is_read_over_rest_after_rostopic_left(ros_master: RosMaster) -> None:
    """``ROSWEB_CACHE_TOPICS`` names the topics kept from the moment they appear."""
    app = create_app({"TESTING": True, "ROSWEB_BACKEND": "ros1://?linger=0.5",
                      "ROSWEB_CACHE_TOPICS": "/chatter*"})  # fmt: skip
    server = Server(app, "127.0.0.1", 0, threads=8)
    server.start()
    try:
        live = LiveServer(app, server, None)
        pub = ros_tool(ros_master, "rostopic", "pub", "-1", "/chatter_kept", "std_msgs/String",
                       "data: kept")  # fmt: skip
        assert pub.returncode == 0, pub.stderr  # published, latched 3 s, and gone
        response = get(live, "/api/topics/chatter_kept")
        assert response.status_code == 200, response.text
        assert response.json()["msg"] == {"data": "kept"}
    finally:
        server.stop()
        RosWeb.close(app)


@pytest.fixture
def peer(ros_master: RosMaster, processes: list[subprocess.Popen[str]], tmp_path: Path) -> None:
    script = tmp_path / "peer.py"
    script.write_text(PEER)
    proc = spawn(processes, ros_master, [SYSTEM_PYTHON, str(script)])
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"


BIG_PEER = """
import rospy
from sensor_msgs.msg import Image
from std_msgs.msg import String

rospy.init_node("big_peer")
text = rospy.Publisher("/big_text", String, queue_size=1, latch=True)
image = rospy.Publisher("/big_image", Image, queue_size=1, latch=True)
text.publish(String(data="t" * 300000))
image.publish(Image(height=480, width=640, encoding="rgb8", step=1920,
                    data=bytes(range(256)) * 3600))
print("ready", flush=True)
rospy.spin()
"""


def test_messages_larger_than_a_receive_arrive_whole(
    ros1_server: LiveServer,
    ros_master: RosMaster,
    processes: list[subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    """rosweb reads a subscription 64 KiB at a time (graph.RECEIVE): a 300 KB String and a
    900 KB Image arrive whole."""
    script = tmp_path / "big_peer.py"
    script.write_text(BIG_PEER)
    proc = spawn(processes, ros_master, [SYSTEM_PYTHON, str(script)])
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    text = get(ros1_server, "/api/topics/big_text")
    assert text.status_code == 200, text.text
    assert text.json()["msg"]["data"] == "t" * 300000
    image = get(ros1_server, "/api/topics/big_image")
    assert image.status_code == 200, image.text
    data = base64.b64decode(image.json()["msg"]["data"])
    assert data == bytes(range(256)) * 3600


def test_topics_nodes_and_messages_of_a_peer(ros1_server: LiveServer, peer: None) -> None:
    wait_for(lambda: "/peer" in get(ros1_server, "/api/nodes").json()["nodes"])
    assert "/rosweb" in get(ros1_server, "/api/nodes").json()["nodes"]
    topics = {t["name"]: t["type"] for t in get(ros1_server, "/api/topics").json()["topics"]}
    assert topics["/peer_counter"] == "std_msgs/Int32"
    first = get(ros1_server, "/api/topics/peer_counter").json()["msg"]["data"]
    wait_for(lambda: get(ros1_server, "/api/topics/peer_counter").json()["msg"]["data"] > first)


def test_calling_a_peer_service(ros1_server: LiveServer, peer: None) -> None:
    services = {s["name"]: s["type"] for s in get(ros1_server, "/api/services").json()["services"]}
    assert services["/peer/set_flag"] == "std_srvs/SetBool"
    for value in (True, False, True):  # a pooled persistent proxy serves the repeated calls
        reply = post(ros1_server, "/api/services/peer/set_flag", {"data": value})
        assert reply.status_code == 200, reply.text
        assert reply.json()["response"] == {"success": value, "message": f"peer got {value}"}
    assert_error(post(ros1_server, "/api/services/peer/broken", {}), 502, "service_failed")
    assert_error(post(ros1_server, "/api/services/peer/set_flag", {"data": 1}), 422, field="data")
    assert_error(post(ros1_server, "/api/services/nobody/home", {}), 404, "not_found")


def test_graph_view_names_the_nodes_behind_topics_and_services(
    ros1_server: LiveServer, peer: None
) -> None:
    def graph() -> dict[str, Any]:
        body: dict[str, Any] = get(ros1_server, "/api/graph").json()
        return body

    wait_for(lambda: "/peer_counter" in {t["name"] for t in graph()["topics"]})
    body = graph()
    assert body["available"] is True
    assert {"/peer", "/rosweb"} <= set(body["nodes"])
    topics = {t["name"]: t for t in body["topics"]}
    assert topics["/peer_counter"]["publishers"] == ["/peer"]
    services = {s["name"]: s for s in body["services"]}
    assert services["/peer/set_flag"]["providers"] == ["/peer"]
    get(ros1_server, "/api/topics/peer_counter")  # rosweb subscribes: it shows as a subscriber
    wait_for(lambda: "/rosweb" in {t["name"]: t for t in graph()["topics"]}["/peer_counter"][
        "subscribers"])  # fmt: skip
    stats = {t["name"]: t for t in get(ros1_server, "/api/stats/topics").json()["topics"]}
    wait_for(lambda: get(ros1_server, "/api/stats/topics?topic=/peer_counter").json()["topics"][
        0]["rate"] > 5)  # fmt: skip  # the peer publishes at 10 Hz
    assert stats["/peer_counter"]["type"] == "std_msgs/Int32"


def test_params_are_the_parameter_server(ros1_server: LiveServer, ros_master: RosMaster) -> None:
    assert ros_tool(ros_master, "rosparam", "set", "/experiment/gain", "2.5").returncode == 0
    assert get(ros1_server, "/api/params/experiment/gain").json() == 2.5
    put = requests.put(ros1_server.url + "/api/params/experiment/name", json="run-7", timeout=10)
    assert put.status_code == 200
    assert ros_tool(ros_master, "rosparam", "get", "/experiment/name").stdout.strip() == "run-7"
    assert "/experiment/gain" in get(ros1_server, "/api/params").json()["params"]
    assert (
        requests.delete(ros1_server.url + "/api/params/experiment", timeout=10).status_code == 204
    )
    assert ros_tool(ros_master, "rosparam", "get", "/experiment/name").returncode != 0
    assert_error(get(ros1_server, "/api/params/experiment/name"), 404, "not_found")


def test_publish_any_installed_type_latched_for_late_subscribers(
    ros1_server: LiveServer, ros_master: RosMaster
) -> None:
    reply = post(ros1_server, "/api/topics/goal?type=geometry_msgs/PoseStamped&latch=true",
                 {"header": {"frame_id": "map"}, "pose": {"position": {"x": 1.5}}})  # fmt: skip
    assert reply.status_code == 200, reply.text
    echo = ros_tool(ros_master, "rostopic", "echo", "-n1", "/goal")  # subscribes after the fact
    assert echo.returncode == 0, echo.stderr
    assert 'frame_id: "map"' in echo.stdout
    assert "x: 1.5" in echo.stdout


def test_publisher_is_released_and_made_again(
    ros1_server: LiveServer, ros_master: RosMaster, processes: list[subprocess.Popen[str]]
) -> None:
    def send() -> None:
        post(ros1_server, "/api/topics/reload?type=std_msgs/String", {"data": "again"})

    assert "again" in echo_until_output(processes, ros_master, "/reload", send)

    def rosweb_publishes_reload() -> bool:
        with xmlrpc.client.ServerProxy(ros_master.uri) as proxy:
            _, _, (publishers, _, _) = proxy.getSystemState("/test")
        return any(t == "/reload" and "/rosweb" in nodes for t, nodes in publishers)

    wait_for(lambda: not rosweb_publishes_reload(), timeout=10)  # unused: unregistered
    assert "again" in echo_until_output(processes, ros_master, "/reload", send)  # works again


def test_bad_input_on_ros1(ros1_server: LiveServer) -> None:
    assert_error(post(ros1_server, "/api/topics/cmd_vel", {"linear": {"x": "fast"}}), 422,
                 field="linear.x")  # fmt: skip
    assert_error(post(ros1_server, "/api/topics/x?type=nope_msgs/Nope", {}), 422, "unknown_type")
    assert_error(get(ros1_server, "/api/topics/not_a_topic"), 404, "not_found")


# -- processes: one node, clean exit --------------------------------------------------------------


def test_rosweb_run_on_ros1_exits_cleanly(
    ros_master: RosMaster, processes: list[subprocess.Popen[str]]
) -> None:
    port = free_port()
    args = ["run", "--backend", "ros1://?node=/rosweb_cli", "--port", str(port)]
    proc = spawn(processes, ros_master, [str(BIN / "rosweb"), *args])
    wait_for(lambda: "/rosweb_cli" in master_nodes(ros_master), timeout=20)
    wait_for(lambda: _up(f"http://127.0.0.1:{port}"), timeout=20)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output
    assert "/rosweb_cli" not in master_nodes(ros_master)


@pytest.mark.parametrize("reload", ["--reload", "--no-reload"])
def test_flask_run_starts_exactly_one_node(
    ros_master: RosMaster, processes: list[subprocess.Popen[str]], tmp_path: Path, reload: str
) -> None:
    node = f"/rosweb_flask_{reload.strip('-').replace('-', '_')}"
    port = free_port()
    env = ros_master.env() | {"ROSWEB_BACKEND": f"ros1://?node={node}"}
    proc = subprocess.Popen(
        [str(BIN / "flask"), "--app", "rosweb.web:create_app", "run", reload, "--port", str(port)],
        env=env, cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    processes.append(proc)
    wait_for(lambda: _up(f"http://127.0.0.1:{port}"), timeout=30)
    time.sleep(1.0)  # a second node, if any, would have registered by now
    assert [n for n in master_nodes(ros_master) if n.startswith(node)] == [node]
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=20)
    wait_for(lambda: node not in master_nodes(ros_master), timeout=10)


def _up(url: str) -> bool:
    try:
        return requests.get(url + "/api/health", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


# -- the master goes away and comes back (last: restarts the session's master) --------------------


def test_master_restart_is_survived(
    ros1_server: LiveServer, ros_master: RosMaster, processes: list[subprocess.Popen[str]]
) -> None:
    heartbeat = ["rostopic", "pub", "-r", "5", "/heartbeat", "std_msgs/String"]
    before = spawn(processes, ros_master, [*heartbeat, "data: before"])
    wait_for(lambda: get(ros1_server, "/api/topics/heartbeat?timeout=1").status_code == 200, 20)
    os.killpg(before.pid, signal.SIGKILL)

    ros_master.kill()
    wait_for(lambda: get(ros1_server, "/api/health").status_code == 503, timeout=5)
    assert get(ros1_server, "/api/health").json()["ok"] is False
    assert_error(get(ros1_server, "/api/topics"), 503, "backend_unavailable")
    teleop = post(ros1_server, "/api/teleop", {"command": "stop"})  # peer-to-peer still works
    assert teleop.status_code == 200

    ros_master.start()
    wait_for(lambda: get(ros1_server, "/api/health").status_code == 200, timeout=10)
    assert get(ros1_server, "/api/health").json()["graph"]["reregistrations"] >= 1

    # rosweb's publisher is known to the new master: a new subscriber finds it
    def turn() -> None:
        post(ros1_server, "/api/teleop", {"command": "left"})

    output = echo_until_output(processes, ros_master, "/cmd_vel", turn)
    assert "z: 1.0" in output
    # rosweb's subscription is known too: a new publisher reaches it
    spawn(processes, ros_master, [*heartbeat, "data: after"])
    wait_for(
        lambda: get(ros1_server, "/api/topics/heartbeat").json()["msg"]["data"] == "after",
        timeout=20,
    )
