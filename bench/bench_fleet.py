"""Fleets over MQTT: through the broker against direct WebSocket and raw MQTT, same run.

A real mosquitto (Debian's) on a free loopback port.

1. command latency: a Twist from the fleet side until the robot's middleware has it (a
   subscription to /cmd_vel on the robot's bus), sequential, p50/p99; through the broker
   (fleet backend -> cmd/drive -> the robot's guard -> /cmd_vel) against rosbridge ``publish``
   over a direct WebSocket to the robot's own rosweb, and raw paho publish -> subscribe on the
   same broker (the floor).
2. telemetry: /odom at 50 Hz streamed unthrottled (``/odom@100``), received per second by the
   fleet backend against a direct WebSocket subscriber.
3. bytes on the wire per robot per second at default settings (odom@5, battery@1, camera@1 JPEG
   320 px) on the simulated robot.
4. scale: N light robots (bus + odom at 10 Hz + battery at 1 Hz, no camera) in one process, each
   with its own bridge, one broker, one fleet backend in another process: telemetry messages/s
   the fleet receives, the time to build every card (what GET /api/robots costs), and the CPU
   share of the broker, the robots' process and the fleet process.

    python bench/bench_fleet.py [--seconds 3] [--sizes 10,50,100]
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from mqtt_helpers import Mosquitto
from rosweb import config
from rosweb.core import Caller, Robot
from rosweb.fleet.robot_bridge import RobotBridge
from rosweb.graph.sim import Bus, SimGraph
from rosweb.messages import default

OPERATOR = Caller("bench", "operator", "bench", "open")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000.0


def cpu_of(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Arrivals:
    """Times a Twist with a given linear.x reaches the robot's bus."""

    def __init__(self, graph: Any) -> None:
        self.seen: dict[float, float] = {}
        self.event = threading.Event()
        graph.subscribe("/cmd_vel", self, "geometry_msgs/Twist")

    def __call__(self, msg: dict[str, Any]) -> None:
        self.seen[msg["linear"]["x"]] = time.perf_counter()
        self.event.set()


def latency(send: Any, arrivals: Arrivals, n: int, run: int) -> list[float]:
    out = []
    for i in range(n):
        x = round(0.001 * run + i * 1e-6, 7)  # a value of its own per command and per run
        arrivals.event.clear()
        start = time.perf_counter()
        send(x)
        deadline = start + 2.0
        while x not in arrivals.seen and time.perf_counter() < deadline:
            arrivals.event.wait(0.5)
            arrivals.event.clear()
        if x in arrivals.seen:
            out.append(arrivals.seen[x] - start)
        time.sleep(0.005)
    return out


def single(broker: Mosquitto, seconds: float) -> dict[str, Any]:
    import paho.mqtt.client as mqtt
    import websocket
    from paho.mqtt.enums import CallbackAPIVersion

    from rosweb.server import Server
    from rosweb.server.handlers import tornado_handlers
    from rosweb.web import RosWeb, create_app

    settings = config.load(
        {"ROSWEB_FLEET": broker.url(robot="r1"), "ROSWEB_FLEET_TOPICS": ["/odom@100"]}, environ={}
    )
    graph = SimGraph("sim://")
    app = create_app({**settings, "TESTING": True}, graph=graph)
    server = Server(app, "127.0.0.1", 0, threads=8, handlers=tornado_handlers(app))
    server.start()
    robot = app.extensions["rosweb"].robot
    bridge = RobotBridge(robot, settings).start()
    fleet = Robot.from_settings(config.load({"ROSWEB_BACKEND": broker.url()}, environ={}))
    time.sleep(3.0)
    arrivals = Arrivals(graph)
    results: dict[str, Any] = {}
    n = int(200 * seconds / 3)

    op = fleet.bind(OPERATOR)
    results["broker"] = latency(
        lambda x: op.publish("/r1/cmd_vel", {"linear": {"x": x}}), arrivals, n, 1
    )
    ws = websocket.create_connection(server.url.replace("http", "ws") + "/ws")
    ws.sock.setsockopt(6, 1, 1)  # TCP_NODELAY

    def ws_send(x: float) -> None:
        ws.send(
            json.dumps(
                {
                    "op": "publish",
                    "topic": "/cmd_vel",
                    "type": "geometry_msgs/Twist",
                    "msg": {"linear": {"x": x}},
                }
            )
        )

    robot.local.release(force=True)  # the fleet's operator held the lease: free it
    results["ws"] = latency(ws_send, arrivals, n, 2)
    raw_in: dict[bytes, float] = {}
    got = threading.Event()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    sub.on_message = lambda c, u, m: (raw_in.__setitem__(m.payload, time.perf_counter()), got.set())
    sub.connect("127.0.0.1", broker.port)
    sub.subscribe("bench/raw")
    sub.loop_start()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    time.sleep(0.5)
    raw = []
    for _ in range(n):
        key = uuid.uuid4().bytes
        got.clear()
        start = time.perf_counter()
        pub.publish("bench/raw", key)
        while key not in raw_in and got.wait(2.0):
            got.clear()
        if key in raw_in:
            raw.append(raw_in[key] - start)
        time.sleep(0.005)
    results["raw"] = raw

    # telemetry: odom at 50 Hz, unthrottled through the broker vs a WebSocket subscriber
    count = {"broker": 0, "ws": 0}
    handle = fleet.local.subscribe(
        "/r1/odom", lambda e: count.__setitem__("broker", count["broker"] + 1)
    )
    ws.send(json.dumps({"op": "subscribe", "topic": "/odom"}))
    ws.settimeout(0.2)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            frame = ws.recv()
        except websocket.WebSocketTimeoutException:
            continue
        if '"/odom"' in frame:
            count["ws"] += 1
    results["telemetry"] = {k: v / seconds for k, v in count.items()}
    handle.close()
    ws.close()
    for client in (sub, pub):
        client.disconnect()
        client.loop_stop()
    bridge.close()
    fleet.close()
    server.stop()
    RosWeb.close(app)
    graph.close()

    # bytes per robot per second at the default settings
    defaults = config.load({"ROSWEB_FLEET": broker.url(robot="d1")}, environ={})
    sim = Robot.from_settings({**defaults, "ROSWEB_BACKEND": "sim://"})
    bridge = RobotBridge(sim, defaults).start()
    time.sleep(2.5)
    before = bridge.telemetry.bytes
    time.sleep(seconds)
    results["bytes_per_s"] = (bridge.telemetry.bytes - before) / seconds
    bridge.close()
    sim.close()
    return results


def light_robots(url: str, n: int, seconds: float, out: Any) -> None:
    """N light robots in this process: bus, odom 10 Hz, battery 1 Hz, one bridge each."""
    logging.disable(logging.WARNING)
    robots, bridges = [], []
    for i in range(n):
        bus = Bus(url="sim://?robot=0")
        settings = config.load(
            {
                "ROSWEB_FLEET": f"{url}?robot=n{i}",
                "ROSWEB_FLEET_TOPICS": ["/odom@10", "/battery@1"],
            },
            environ={},
        )
        robot = Robot(bus, settings=settings)
        robots.append((bus, robot))
        bridges.append(RobotBridge(robot, settings).start())
    odom = default(robots[0][0].types, "nav_msgs/Odometry")
    battery = default(robots[0][0].types, "sensor_msgs/BatteryState")
    battery["percentage"] = 0.8
    stop = time.monotonic() + seconds + 8.0
    tick = 0
    while time.monotonic() < stop:
        for bus, _ in robots:
            odom["pose"]["pose"]["position"]["x"] = tick * 0.01
            bus.publish("/odom", "nav_msgs/Odometry", odom)
            if tick % 10 == 0:
                bus.publish("/battery", "sensor_msgs/BatteryState", battery)
        tick += 1
        time.sleep(0.1)
    for bridge in bridges:
        bridge.close()
    for bus, robot in robots:
        robot.close()
        bus.close()
    out.put("done")


def scale(broker: Mosquitto, n: int, seconds: float) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    group = ctx.Process(target=light_robots, args=(broker.url(), n, seconds, queue))
    group.start()
    fleet = Robot.from_settings(config.load({"ROSWEB_BACKEND": broker.url()}, environ={}))
    port = fleet.fleet
    assert port is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum(c["online"] for c in port.cards()) < n:
        time.sleep(0.2)
    online = sum(c["online"] for c in port.cards())
    received = {"n": 0}
    graph = fleet._graph  # the bench counts what the backend delivers
    original = graph._deliver

    def counting(name: str, msg: Any) -> None:
        received["n"] += 1
        original(name, msg)

    graph._deliver = counting  # type: ignore[method-assign]
    time.sleep(1.0)
    cpu0 = (cpu_of(broker.proc.pid), cpu_of(group.pid), time.process_time())  # type: ignore[union-attr]
    count0, t0 = received["n"], time.monotonic()
    cards = []
    while time.monotonic() - t0 < seconds:
        start = time.perf_counter()
        port.cards()
        cards.append(time.perf_counter() - start)
        time.sleep(0.2)
    elapsed = time.monotonic() - t0
    cpu1 = (cpu_of(broker.proc.pid), cpu_of(group.pid), time.process_time())  # type: ignore[union-attr]
    rate = (received["n"] - count0) / elapsed
    fleet.close()
    queue.get(timeout=60)
    group.join(timeout=30)
    share = [round(100 * (b - a) / elapsed, 1) for a, b in zip(cpu0, cpu1, strict=True)]
    return {
        "n": n,
        "online": online,
        "telemetry_msgs_per_s": round(rate, 1),
        "expected_msgs_per_s": 11 * n,
        "cards_ms_p50": round(pct(cards, 0.5), 2),
        "cpu_broker_pct": share[0],
        "cpu_robots_pct": share[1],
        "cpu_fleet_pct": share[2],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--sizes", default="10,50,100")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    directory = Path(tempfile.mkdtemp(prefix="rosweb-bench-fleet-"))
    broker = Mosquitto(directory / "broker").start()
    try:
        res = single(broker, args.seconds)
        for key in ("broker", "ws", "raw"):
            v = res[key]
            print(
                f"command latency {key:6s}: p50 {pct(v, 0.5):.2f} ms  p99 {pct(v, 0.99):.2f} ms"
                f"  ({len(v)} samples)"
            )
        t = res["telemetry"]
        print(f"telemetry /odom 50 Hz: broker {t['broker']:.1f} msg/s, websocket {t['ws']:.1f}")
        print(f"bytes per robot per second at defaults: {res['bytes_per_s']:.0f} B/s")
        for n in [int(s) for s in args.sizes.split(",") if s]:
            print(json.dumps(scale(broker, n, args.seconds)))
    finally:
        broker.kill()


if __name__ == "__main__":
    main()
