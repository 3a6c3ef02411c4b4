"""Latched topics reach late subscribers (#12.9) on every path: a rosbridge subscribe, REST,
SSE and the Python client, on the simulator and on ROS 1 (one process, and workers with the
agent), with an external latched publisher (``rostopic pub -l``, a peer on the sim bus) and
rosweb's own (``POST ...?latch=true``, a rosbridge advertise with ``latch``). The hub's cache
subscription used to take the latched message first, and a WebSocket subscriber got nothing."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest
import requests
import websocket

from helpers import LiveServer, RosMaster, wait_for
from reliability.procs import Served, clean_env

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

WAIT = 5.0  # seconds a late subscriber waits for the latched message


def by_websocket(url: str, topic: str) -> list[Any]:
    ws = websocket.create_connection(url.replace("http", "ws") + "/ws", timeout=WAIT)
    try:
        ws.send(json.dumps({"op": "subscribe", "topic": topic, "id": "late"}))
        message = json.loads(ws.recv())  # a timeout here: nothing came
        assert message["op"] == "publish", message
        return [message["msg"]["data"]]
    finally:
        ws.close()


def by_sse(url: str, topic: str) -> list[Any]:
    with requests.get(f"{url}/api/topics{topic}/events", stream=True, timeout=WAIT) as events:
        line = next(line for line in events.iter_lines() if line.startswith(b"data:"))
        return [json.loads(line[5:])["data"]]


def by_rest(url: str, topic: str) -> list[Any]:
    reply = requests.get(f"{url}/api/topics{topic}?timeout={WAIT}", timeout=WAIT + 5)
    assert reply.status_code == 200, reply.text
    return [reply.json()["msg"]["data"]]


def by_client(url: str, topic: str) -> list[Any]:
    from rosweb import Client

    with Client(url) as client:
        return [m["data"] for m in client.subscribe(topic, limit=1, timeout=WAIT)]


#: REST first: once it answers, rosweb has taken the message (ROS 1 may take a while to connect)
READERS = {"rest": by_rest, "websocket": by_websocket, "sse": by_sse, "client": by_client}


def assert_late_readers_get(url: str, topic: str, data: str) -> None:
    """Each path, subscribing after the message was latched, gets it."""
    for name, read in READERS.items():
        assert read(url, topic) == [data], name


# -- the simulator ----------------------------------------------------------------------------


def test_sim_latched_messages_of_rosweb_and_of_a_peer_reach_late_subscribers(
    live_server: LiveServer,
) -> None:
    url = live_server.url
    reply = requests.post(f"{url}/api/topics/latched_rest?type=std_msgs/String&latch=true",
                          json={"data": "rest"}, timeout=10)  # fmt: skip
    assert reply.status_code == 200, reply.text
    ws = websocket.create_connection(url.replace("http", "ws") + "/ws", timeout=10)
    try:
        ws.send(json.dumps({"op": "advertise", "topic": "/latched_ws", "type": "std_msgs/String",
                            "latch": True}))  # fmt: skip
        ws.send(json.dumps({"op": "publish", "topic": "/latched_ws", "msg": {"data": "ws"}}))
        time.sleep(0.5)  # the hub's cache subscriptions have taken them
        assert_late_readers_get(url, "/latched_rest", "rest")
        assert_late_readers_get(url, "/latched_ws", "ws")
        # a peer on the bus, outside rosweb
        peer = live_server.graph.advertise("/latched_peer", "std_msgs/String", latch=True)
        live_server.graph.publish("/latched_peer", "std_msgs/String", {"data": "peer"}, latch=True)
        time.sleep(0.5)
        assert_late_readers_get(url, "/latched_peer", "peer")
        peer.close()
    finally:
        ws.close()


# -- ROS 1 ------------------------------------------------------------------------------------


@pytest.fixture(params=["single", "workers"])
def ros1_run(
    request: pytest.FixtureRequest, ros_master: RosMaster, processes: list[subprocess.Popen[str]]
) -> Served:
    env = clean_env(ROS_MASTER_URI=ros_master.uri, ROS_IP="127.0.0.1")
    workers = ["--workers", "2"] if request.param == "workers" else []
    node = f"/rosweb_latch_{request.param}"
    return Served(processes, *workers, "--backend", f"ros1://?node={node}", env=env)


def rostopic_pub_latched(
    master: RosMaster, processes: list[subprocess.Popen[str]], topic: str, data: str
) -> None:
    proc = subprocess.Popen(
        ["rostopic", "pub", "-l", topic, "std_msgs/String", f"data: {data}"], env=master.env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, text=True,
    )  # fmt: skip
    processes.append(proc)


def test_ros1_latched_messages_of_rostopic_and_of_rosweb_reach_late_subscribers(
    ros1_run: Served, ros_master: RosMaster, processes: list[subprocess.Popen[str]]
) -> None:
    url = ros1_run.url
    topic = f"/latched_ext_{ros1_run.port}"
    rostopic_pub_latched(ros_master, processes, topic, "ext")
    wait_for(lambda: topic in [t["name"] for t in ros1_run.get("/api/topics").json()["topics"]],
             timeout=20)  # fmt: skip
    time.sleep(1.0)  # rosweb's cache subscription has taken the latched message
    assert_late_readers_get(url, topic, "ext")

    own = f"/latched_own_{ros1_run.port}"
    reply = requests.post(f"{url}/api/topics{own}?type=std_msgs/String&latch=true",
                          json={"data": "own"}, timeout=10)  # fmt: skip
    assert reply.status_code == 200, reply.text
    time.sleep(0.5)
    assert_late_readers_get(url, own, "own")
    echo = subprocess.run(["rostopic", "echo", "-n1", own], env=ros_master.env(),
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    assert 'data: "own"' in echo.stdout
