"""Faults of a fleet: the broker killed and restarted, a robot killed, forged and expired messages.

Real processes on a real mosquitto; the robots are watched through their own REST API (which
the broker's outage does not touch).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from helpers import wait_for
from mqtt_helpers import Mosquitto, RosWebProcess, moved, pose

pytestmark = pytest.mark.integration
KEEPALIVE = 2  # s: the robots' MQTT keepalive here (default 5)
#: a robot whose link dies is shown offline within 1.5 keepalives (the broker's will) + a poll
OFFLINE_BOUND = 1.5 * KEEPALIVE + 1.0


def start_fleet(
    directory: Path, names: list[str]
) -> tuple[Mosquitto, dict[str, RosWebProcess], RosWebProcess]:
    broker = Mosquitto(directory / "broker").start()
    robots = {
        name: RosWebProcess(
            ["--fleet", broker.url(robot=name, keepalive=str(KEEPALIVE))],
            directory / f"{name}.log",
            env={"ROSWEB_FLEET_TOPICS": '["/odom@10", "/battery@1"]'},
        ).start(False)
        for name in names
    }
    server = RosWebProcess(
        ["--backend", broker.url(keepalive=str(KEEPALIVE))], directory / "fleet.log"
    ).start()
    for robot in robots.values():
        wait_for(robot.is_up, timeout=30)
    wait_for(lambda: online(server) == set(names), timeout=20)
    return broker, robots, server


def online(server: RosWebProcess) -> set[str]:
    try:
        return {r["name"] for r in server.get("/api/robots").json()["robots"] if r["online"]}
    except Exception:
        return set()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[Mosquitto, dict[str, RosWebProcess], RosWebProcess]]:
    broker, robots, server = start_fleet(tmp_path, ["r1", "r2"])
    yield broker, robots, server
    server.stop()
    for robot in robots.values():
        robot.stop()
    broker.kill()


class Driver(threading.Thread):
    """Keeps sending teleop forward to one robot through the fleet, as a held key would."""

    def __init__(self, server: RosWebProcess, name: str) -> None:
        super().__init__(daemon=True)
        self.server, self.name = server, name
        self.answers: list[int] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                code = self.server.post(
                    f"/robots/{self.name}/api/teleop",
                    {"command": "forward"},
                    headers={"X-Rosweb-Client": "held"},
                ).status_code
            except Exception:
                code = 0
            self.answers.append(code)
            time.sleep(0.1)


def test_broker_restart_deadman_reconnect_and_no_stale_command(fleet: Any) -> None:
    broker, robots, server = fleet
    r1 = robots["r1"]
    driver = Driver(server, "r1")
    driver.start()
    wait_for(lambda: driver.answers.count(200) >= 3, timeout=10)
    moving_from = pose(r1)
    time.sleep(0.3)
    assert moved(moving_from, pose(r1)) > 0.02  # driven through the broker
    broker.kill()
    time.sleep(0.6)  # the deadman (0.2 s) has stopped it, the broker being away
    stopped_at = pose(r1)
    time.sleep(1.0)
    assert moved(stopped_at, pose(r1)) < 0.005  # still while the broker is away
    outage = len(driver.answers)
    time.sleep(0.5)
    assert 200 not in driver.answers[outage:]  # commands refused at once (503), never queued
    assert 503 in driver.answers[outage:]
    driver.halt.set()
    driver.join()
    broker.start()  # the same port: everyone reconnects by themselves
    wait_for(lambda: online(server) == {"r1", "r2"}, timeout=20)
    x = server.get("/api/robots/r1").json()["pose"]["x"]
    wait_for(
        lambda: (
            server.get("/api/topics/r1/odom").json()["msg"]["pose"]["pose"]["position"]["x"] == x
        ),
        timeout=5,
    )
    time.sleep(1.0)  # nothing sent during the outage arrives late
    assert moved(stopped_at, pose(r1)) < 0.005
    # subscriptions restored both ways: commands reach the robot again, telemetry flows again
    before = pose(robots["r2"])
    for _ in range(8):
        assert server.post("/robots/r2/api/teleop", {"command": "forward"}).status_code == 200
        time.sleep(0.1)
    after = pose(robots["r2"])
    assert moved(before, after) > 0.05
    wait_for(
        lambda: (
            abs(server.get("/api/robots/r2").json()["pose"]["x"] - pose(robots["r2"])[0]) < 0.01
        ),
        timeout=5,
    )
    # stopped by the deadman or, when the robot's side heard of the lost link first, by the
    # driver's disconnect: either way nothing moves it now
    assert r1.get("/api/health").json()["teleop"]["moving"] is False


def test_killed_robot_is_shown_offline_within_the_bound(fleet: Any) -> None:
    _, robots, server = fleet
    robots["r2"].kill()
    started = time.monotonic()
    wait_for(lambda: "r2" not in online(server), timeout=OFFLINE_BOUND)
    took = time.monotonic() - started
    print(f"killed robot shown offline after {took:.2f} s (bound {OFFLINE_BOUND:.1f} s)")
    card = server.get("/api/robots/r2").json()
    assert card["online"] is False
    assert "/r2/odom" not in {t["name"] for t in server.get("/api/topics").json()["topics"]}
    assert server.post("/robots/r2/api/teleop", {"command": "forward"}).status_code == 503
    assert "r1" in online(server)


class RawClient:
    """A plain paho client on the broker, as any MQTT program (or an attacker) would be."""

    def __init__(self, broker: Mosquitto, **auth: Any) -> None:
        self.messages: list[Any] = []
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            protocol=mqtt.MQTTv5,
            client_id=f"raw-{uuid.uuid4().hex[:6]}",
        )
        if auth.get("username"):
            self.client.username_pw_set(auth["username"], auth.get("password"))
        if auth.get("tls"):
            self.client.tls_set(**auth["tls"])
        self.client.on_message = lambda c, u, m: self.messages.append(m)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)
        time.sleep(0.3)

    def publish(self, topic: str, body: Any, *, reply: str | None = None, qos: int = 1) -> Any:
        props = Properties(PacketTypes.PUBLISH)
        props.ContentType = "application/json"
        if reply:
            props.ResponseTopic = reply
            props.CorrelationData = uuid.uuid4().bytes
        info = self.client.publish(topic, json.dumps(body), qos=qos, properties=props)
        if qos:
            info.wait_for_publish(timeout=5)
        return info

    def answers(self) -> list[dict[str, Any]]:
        return [json.loads(m.payload) for m in self.messages if "/resp/" in m.topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_forged_robot_name_and_expired_command_refused(fleet: Any) -> None:
    broker, robots, server = fleet
    raw = RawClient(broker)
    raw.subscribe("rosweb/r1/resp/raw")
    try:
        forged_before = server.get("/api/health").json()["graph"]["forged"]
        # a status for r1 that names r3: dropped, counted, r3 never appears
        raw.publish("rosweb/r1/status", {"robot": "r3", "online": True, "topics": {}})
        # telemetry for r1 naming r2
        raw.publish(
            "rosweb/r1/topic/odom",
            {"robot": "r2", "topic": "/odom", "type": "nav_msgs/Odometry", "stamp": 0, "msg": {}},
        )
        wait_for(lambda: server.get("/api/health").json()["graph"]["forged"] >= forged_before + 2)
        assert "r3" not in {r["name"] for r in server.get("/api/robots").json()["robots"]}
        assert server.get("/api/robots/r1").json()["online"] is True
        before = pose(robots["r1"])
        twist = {"linear": {"x": 0.5}}
        now = time.time()
        # sent 5 s ago (held in a queue, say): refused by the robot's clock
        raw.publish(
            "rosweb/r1/cmd/drive",
            {"robot": "r1", "ts": now - 5, "ttl": 0.5, "twist": twist},
            reply="rosweb/r1/resp/raw",
        )
        # addressed to r2 but published on r1's topic: refused
        raw.publish(
            "rosweb/r1/cmd/drive",
            {"robot": "r2", "ts": now, "ttl": 0.5, "twist": twist},
            reply="rosweb/r1/resp/raw",
        )
        # an answer asked for outside r1's subtree: the robot does not write there
        raw.publish(
            "rosweb/r1/cmd/drive",
            {"robot": "r1", "ts": now - 9, "ttl": 0.5, "twist": twist},
            reply="rosweb/r2/resp/raw",
        )
        wait_for(lambda: len(raw.answers()) >= 2, timeout=5)
        expired, misaddressed = raw.answers()[:2]
        assert expired["ok"] is False
        assert "expired" in expired["error"]["message"]
        assert misaddressed["ok"] is False
        assert misaddressed["error"]["field"] == "robot"
        time.sleep(0.5)
        assert len(raw.answers()) == 2
        assert moved(before, pose(robots["r1"])) < 0.005
        # a fresh, well-addressed command from the same client does drive (the contract works)
        raw.publish(
            "rosweb/r1/cmd/drive",
            {"robot": "r1", "ts": time.time(), "ttl": 0.5, "twist": twist},
            reply="rosweb/r1/resp/raw",
            qos=0,
        )
        wait_for(lambda: len(raw.answers()) == 3, timeout=5)
        assert raw.answers()[2]["ok"] is True
        assert raw.answers()[2]["result"]["linear"]["x"] == 0.5
    finally:
        raw.close()
