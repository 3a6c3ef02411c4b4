"""ros2:// pub/sub through rosweb against raw eclipse-zenoh pub/sub, measured in the same run.

Reference: two raw Zenoh peer sessions on one router, the publisher putting ready-made CDR bytes
(a std_msgs/msg/String of 200 characters) and the subscriber counting payloads: the limit of
Zenoh itself from Python. Measured: two ``ros2://`` graphs (rosweb's nodes) on the same router,
``publish(dict)`` on one and the subscription callback getting the dict on the other (CDR both
ways through rosbags, the attachment, the advanced subscriber). Throughput: a burst, then the
count received within a grace period. Latency: one message at a time, send to receipt.

    python bench/bench_ros2.py [--messages 5000] [--pings 300]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import zenoh
from rows import dump, row

from rosweb.graph.ros2 import Ros2Graph
from rosweb.messages import from_json

TYPE = "std_msgs/msg/String"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peer(port: int) -> zenoh.Session:
    config = zenoh.Config()
    config.insert_json5("mode", '"peer"')
    config.insert_json5("scouting/multicast/enabled", "false")
    config.insert_json5("listen/endpoints", '["tcp/127.0.0.1:0"]')
    config.insert_json5("connect/endpoints", json.dumps([f"tcp/127.0.0.1:{port}"]))
    return zenoh.open(config)


def measure(
    send: Callable[[int], None], subscribe: Callable[[Callable[[Any], None]], Any], args: Any
) -> dict[str, float]:
    """Throughput of a burst and one-at-a-time latency, for one way of sending."""
    count = [0]
    last = [0.0]
    arrived = threading.Event()

    def on_message(_msg: Any) -> None:
        count[0] += 1
        last[0] = time.perf_counter()
        arrived.set()

    handle = subscribe(on_message)
    deadline = time.monotonic() + 10
    while count[0] == 0 and time.monotonic() < deadline:  # the route is up
        send(0)
        time.sleep(0.02)
    time.sleep(0.2)
    count[0] = 0
    start = time.perf_counter()
    for i in range(args.messages):
        send(i)
    sent = time.perf_counter() - start
    grace = time.monotonic() + 3  # messages not here by then were dropped (congestion: DROP)
    while count[0] < args.messages and time.monotonic() < grace:
        time.sleep(0.01)
    received = count[0]
    elapsed = max(last[0] - start, sent)
    latencies = []
    for i in range(args.pings):
        arrived.clear()
        t0 = time.perf_counter()
        send(i)
        if arrived.wait(2):
            latencies.append((time.perf_counter() - t0) * 1000)
    handle.undeclare() if hasattr(handle, "undeclare") else handle.close()
    latencies.sort()
    return {
        "sent_per_s": args.messages / sent,
        "delivered_per_s": received / elapsed,
        "delivered": received / args.messages,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--pings", type=int, default=300)
    parser.add_argument("--json", help="also write the figures here (for bench/bench_all.py)")
    args = parser.parse_args()
    port = free_port()
    host = Ros2Graph(f"ros2://127.0.0.1:{port}?router=embedded&node=/bench_pub")
    sink = Ros2Graph(f"ros2://127.0.0.1:{port}?node=/bench_sub")
    msg = from_json(host.types, TYPE, {"data": "x" * 200})
    payload = host.node.codec.encode(TYPE, msg)
    key = host.node.topic_key("/bench_raw", TYPE)
    a, b = peer(port), peer(port)
    try:
        raw_pub = a.declare_publisher(key)
        raw = measure(
            lambda _i: raw_pub.put(payload),
            lambda cb: b.declare_subscriber(key, lambda s: cb(s.payload.to_bytes())),
            args,
        )
        rosweb = measure(
            lambda _i: host.publish("/bench", TYPE, msg),
            lambda cb: sink.subscribe("/bench", cb, TYPE),
            args,
        )
    finally:
        a.close()  # type: ignore[no-untyped-call]
        b.close()  # type: ignore[no-untyped-call]
        sink.close()
        host.close()
    print(f"std_msgs/msg/String of 200 chars, {args.messages} burst, {args.pings} pings")
    print(f"{'':24}{'raw zenoh':>14}{'ros2://':>14}{'ros2/raw':>10}")
    for name, unit in (("sent_per_s", "msg/s"), ("delivered_per_s", "msg/s"),
                       ("delivered", "share"), ("p50_ms", "ms"), ("p99_ms", "ms")):  # fmt: skip
        ratio = rosweb[name] / raw[name] if raw[name] else float("nan")
        print(
            f"{name + ' (' + unit + ')':24}{raw[name]:>14,.3f}{rosweb[name]:>14,.3f}{ratio:>10.2f}"
        )
    dump(args.json, [
        row("ros2:// burst, delivered", "msg/s", raw["delivered_per_s"],
            rosweb["delivered_per_s"], True),
        row("ros2:// one at a time, p50", "ms", raw["p50_ms"], rosweb["p50_ms"], False),
    ])  # fmt: skip


if __name__ == "__main__":
    main()
