"""Hub fan-out cost against the raw in-process bus, measured in the same run.

Reference: N plain subscriber callbacks on the bus (the physical limit of in-process delivery).
Measured: one hub subscription feeding N consumers, each draining and reading the JSON text, as
web clients do. Also: JSON made once per message (the hub) vs once per consumer (the naive way).

    python bench/bench_hub.py [--consumers 50] [--messages 20000]
"""

from __future__ import annotations

import argparse
import time

from rows import dump, row

from rosweb.graph.sim import Bus
from rosweb.hub import Hub
from rosweb.messages import from_json, to_json


def odometry(bus: Bus, i: int) -> dict:  # type: ignore[type-arg]
    return from_json(
        bus.types,
        "nav_msgs/Odometry",
        {"header": {"seq": i}, "pose": {"pose": {"position": {"x": i * 0.01}}}},
    )


def raw(consumers: int, messages: list[dict]) -> float:  # type: ignore[type-arg]
    bus = Bus()
    seen = [0]

    def callback(msg: dict) -> None:  # type: ignore[type-arg]
        seen[0] += 1

    for _ in range(consumers):
        bus.subscribe("/odom", callback, "nav_msgs/Odometry")
    start = time.perf_counter()
    for msg in messages:
        bus.publish("/odom", "nav_msgs/Odometry", msg)
    elapsed = time.perf_counter() - start
    bus.close()
    assert seen[0] == consumers * len(messages)
    return elapsed


def hub(consumers: int, messages: list[dict], json_once: bool) -> float:  # type: ignore[type-arg]
    bus = Bus()
    h = Hub(bus)
    queues = [
        h.consume("/odom", "nav_msgs/Odometry", queue_length=len(messages))
        for _ in range(consumers)
    ]
    start = time.perf_counter()
    for msg in messages:
        bus.publish("/odom", "nav_msgs/Odometry", msg)
    for q in queues:
        for envelope in q.drain():
            _ = envelope.json if json_once else to_json(envelope.msg)
    elapsed = time.perf_counter() - start
    h.close()
    bus.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--consumers", type=int, default=50)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--json", help="also write the figures here (for bench/bench_all.py)")
    args = parser.parse_args()
    bus = Bus()
    messages = [odometry(bus, i) for i in range(args.messages)]
    bus.close()
    deliveries = args.consumers * args.messages
    t_raw = raw(args.consumers, messages)
    t_hub = hub(args.consumers, messages, json_once=True)
    t_naive = hub(args.consumers, messages, json_once=False)
    print(f"{args.consumers} consumers x {args.messages} nav_msgs/Odometry messages")
    rows = [
        ("raw bus callbacks (reference)", t_raw),
        ("hub, JSON once per message", t_hub),
        ("hub, JSON per consumer", t_naive),
    ]
    for label, elapsed in rows:
        rate = deliveries / elapsed
        print(f"{label:31} {rate:12,.0f} deliveries/s  {t_raw / elapsed:.2f}x of reference")
    case = f"hub fan-out in-process, {args.consumers} consumers, JSON once"
    dump(args.json, [row(case, "deliveries/s", deliveries / t_raw, deliveries / t_hub, True)])


if __name__ == "__main__":
    main()
