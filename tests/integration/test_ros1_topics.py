"""Topics on ROS 1 with rospy processes on the other end: what a rospy subscriber gets from
rosweb's publishers (rospy's queue per subscriber, sent by the connection's thread without a
yield per message), and what rosweb's subscription does with a backlog (``node.py``)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import websocket

from helpers import RosMaster, wait_for
from rosweb.graph import Graph, connect
from rosweb.messages import Message
from rosweb.server import Server
from rosweb.server.handlers import tornado_handlers
from rosweb.web import RosWeb, create_app

pytestmark = pytest.mark.integration

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's python3-rospy is built for it

SUBSCRIBER = """
import sys
import rospy
from std_msgs.msg import String

rospy.init_node("counting_subscriber", anonymous=True)
rospy.Subscriber(sys.argv[1], String, lambda m: print(m.data[:8], flush=True),
                 queue_size=None, tcp_nodelay=True)
print("ready", flush=True)
rospy.spin()
"""


class Subscriber:
    """A rospy subscriber process printing the first 8 characters of each String it gets."""

    def __init__(self, master: RosMaster, topic: str, directory: Path) -> None:
        script = directory / "counting_subscriber.py"
        script.write_text(SUBSCRIBER)
        self.proc = subprocess.Popen(
            [SYSTEM_PYTHON, str(script), topic], env=master.env(), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def until(self, wanted: str, timeout: float = 30.0) -> list[str]:
        """The lines up to and with ``wanted``."""
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while not got or got[-1] != wanted:
            left = deadline - time.monotonic()
            assert left > 0, f"no {wanted!r} within {timeout} s; last lines: {got[-5:]}"
            try:
                got.append(self.lines.get(timeout=left))
            except queue.Empty:
                continue
        return got

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.communicate()


@pytest.fixture
def ros1(ros_master: RosMaster) -> Iterator[Graph]:
    graph = connect("ros1://")
    yield graph
    graph.close()


def connected(subscriber: Subscriber, probe: Callable[[], None]) -> None:
    """``probe()`` (publish a String "probe") until the subscriber got one (it is connected to
    our publisher)."""
    assert subscriber.until("ready") == ["ready"]
    deadline = time.monotonic() + 30
    while True:
        probe()
        try:
            if subscriber.lines.get(timeout=0.1) == "probe":
                break
        except queue.Empty:
            pass
        assert time.monotonic() < deadline, "the subscriber never got a probe"
    while not subscriber.lines.empty():  # probes still on their way
        subscriber.lines.get()
    time.sleep(0.2)
    while not subscriber.lines.empty():
        subscriber.lines.get()


def number(i: int, size: int = 8) -> dict[str, str]:
    return {"data": f"{i:08d}" + "x" * (size - 8)}


def test_messages_now_and_then_and_in_bursts_all_arrive_in_order(
    ros1: Graph, ros_master: RosMaster, tmp_path: Path
) -> None:
    """Single messages after a pause and bursts, interleaved: every one arrives, in order."""
    topic = "/ordered_numbers"
    handle = ros1.advertise(topic, "std_msgs/String")
    subscriber = Subscriber(ros_master, topic, tmp_path)
    try:
        connected(subscriber, lambda: ros1.publish(topic, "std_msgs/String", {"data": "probe"}))
        sent = 0
        for round_ in range(30):
            for _ in range(1 if round_ % 2 else 25):  # one alone, then a burst of 25
                ros1.publish(topic, "std_msgs/String", number(sent))
                sent += 1
            time.sleep(0.005)
        got = subscriber.until(f"{sent - 1:08d}")
        assert got == [f"{i:08d}" for i in range(sent)]
    finally:
        subscriber.kill()
        handle.close()


def test_a_stopped_subscriber_does_not_block_publishing(
    ros1: Graph, ros_master: RosMaster, tmp_path: Path
) -> None:
    """A subscriber that stops reading (SIGSTOP) fills its socket: publishing goes on (the
    connection's queue keeps the newest 1000, drops the oldest), and once it reads again it
    gets messages in order up to the last one."""
    topic = "/stopped_reader"
    handle = ros1.advertise(topic, "std_msgs/String")
    subscriber = Subscriber(ros_master, topic, tmp_path)
    try:
        connected(subscriber, lambda: ros1.publish(topic, "std_msgs/String", {"data": "probe"}))
        os.kill(subscriber.proc.pid, signal.SIGSTOP)
        total = 2500
        done = threading.Event()

        def publish() -> None:
            for i in range(total):
                ros1.publish(topic, "std_msgs/String", number(i, 20_000))
                if i < 600:
                    time.sleep(0.002)  # one at a time: each fills the socket a little more
            done.set()

        threading.Thread(target=publish, daemon=True).start()
        assert done.wait(60), "publishing blocked behind a subscriber that does not read"
        os.kill(subscriber.proc.pid, signal.SIGCONT)
        got = [int(line) for line in subscriber.until(f"{total - 1:08d}", timeout=60)]
        assert got == sorted(set(got)), "messages arrived out of order or twice"
        assert got[0] == 0
        assert got[-1] == total - 1
        assert len(got) < total  # the queue's bound dropped some: rosweb did not hold them all
        wait_for(lambda: subscriber.lines.empty())
    finally:
        if subscriber.proc.poll() is None:
            os.kill(subscriber.proc.pid, signal.SIGCONT)
        subscriber.kill()
        handle.close()


FLOOD = """
import sys
import rospy
from std_msgs.msg import String

rospy.init_node("flood", anonymous=True)
pub = rospy.Publisher(sys.argv[1], String, queue_size=100000, tcp_nodelay=True)
print("ready", flush=True)
sys.stdin.readline()  # go
while pub.get_num_connections() == 0:  # rosweb's subscription connects
    rospy.sleep(0.01)
for i in range(int(sys.argv[2])):
    pub.publish("%08d" % i + "x" * 192)
print("published", flush=True)
sys.stdin.readline()  # the test is done
"""


def test_a_subscription_behind_its_publisher_skips_to_the_newest(
    ros1: Graph, ros_master: RosMaster, tmp_path: Path
) -> None:
    """rosweb's subscription is held up while a publisher sends 20,000 messages (they wait in
    the sockets' buffers and the publisher's queue); once it goes on, it keeps the newest of
    what waits (rospy's queue_size of 100 per read) and reaches the last message after a few
    hundred deliveries, instead of working through the whole backlog 64 KiB at a time (about
    6,700)."""
    topic, total = "/flooding", 20_000
    script = tmp_path / "flood.py"
    script.write_text(FLOOD)
    flood = subprocess.Popen(
        [SYSTEM_PYTHON, str(script), topic, str(total)], env=ros_master.env(), text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    assert flood.stdin is not None
    assert flood.stdout is not None
    held, release = threading.Event(), threading.Event()
    got: list[int] = []

    def on_message(message: Message) -> None:
        got.append(int(message["data"][:8]))
        if len(got) == 1:
            held.set()
            release.wait(60)  # the backlog builds up behind this

    try:
        assert flood.stdout.readline().strip() == "ready"
        with ros1.subscribe(topic, on_message, "std_msgs/String"):
            flood.stdin.write("go\n")
            flood.stdin.flush()
            assert held.wait(30), "no message arrived"
            assert flood.stdout.readline().strip() == "published"
            time.sleep(0.5)  # the publisher's thread fills the sockets' buffers
            release.set()
            wait_for(lambda: bool(got) and got[-1] == total - 1, 30)
        assert got == sorted(got), "messages arrived out of order"
        assert len(got) < 2_000, f"{len(got)} messages delivered to reach the newest"
    finally:
        release.set()
        if flood.poll() is None:
            os.killpg(flood.pid, signal.SIGKILL)
        flood.communicate()


def test_what_a_client_sends_before_it_closes_is_published(
    ros_master: RosMaster, tmp_path: Path
) -> None:
    """A script that publishes and closes at once (roslibpy's publish, then terminate) loses
    nothing over ``rosweb run`` on ros1://: frames still waiting for the backend when the
    connection closes are handled before its session is closed (they were dropped: one
    publish and a close lost the message every time)."""
    topic = "/sent_then_closed"
    app = create_app({"TESTING": True, "ROSWEB_BACKEND": "ros1://"})
    server = Server(app, "127.0.0.1", 0, threads=16, handlers=tornado_handlers(app))
    server.start()
    url = server.url.replace("http", "ws") + "/ws"
    advertise = json.dumps({"op": "advertise", "topic": topic, "type": "std_msgs/String"})
    subscriber = Subscriber(ros_master, topic, tmp_path)
    holder = websocket.create_connection(url, timeout=10)  # keeps the publisher registered
    try:
        holder.send(advertise)
        probe = json.dumps({"op": "publish", "topic": topic, "msg": {"data": "probe"}})
        connected(subscriber, lambda: holder.send(probe))
        sent = 0
        for count in (1, 1, 300):  # one publish and a close (twice), then a burst and a close
            client = websocket.create_connection(url, timeout=10)
            client.send(advertise)
            for _ in range(count):
                frame = {"op": "publish", "topic": topic, "msg": number(sent)}
                client.send(json.dumps(frame))
                sent += 1
            client.close()
        got = subscriber.until(f"{sent - 1:08d}", timeout=20)
        assert got == [f"{i:08d}" for i in range(sent)]
    finally:
        holder.close()
        subscriber.kill()
        server.stop()
        RosWeb.close(app)
