"""The cost of a property (your getter and setter behind every check) against the same write to
a backend parameter and against calling your setter directly, measured in the same run.

Reference: your own setter and getter called directly (the floor), and ``set_param`` /
``get_param`` of a sim parameter with a declared range through the same guarded robot.
Measured: ``set_param`` / ``get_param`` of a property with a range, through ``rw.robot``
(GuardedRobot: names, role, the type and range check, the audit) and through REST
(``PUT``/``GET /api/params/<name>`` with Flask's test client: routing, the gate, JSON).

    python bench/bench_properties.py [--seconds 1]
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable

from flask import Flask
from rows import dump, row

from rosweb.web import RosWeb


def rate(seconds: float, operation: Callable[[int], object]) -> float:
    """Operations per second over ``seconds``."""
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(100):
            operation(count)
            count += 1
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--json", help="also write the figures here (for bench/bench_all.py)")
    args = parser.parse_args()
    logging.getLogger("rosweb.audit").setLevel(logging.WARNING)  # the audit's lines, not printed

    app = Flask("bench")
    app.config.update(ROSWEB_ESTOP_FILE="", ROSWEB_RATE_LIMIT="")
    rw = RosWeb(app)
    store = {"gain": 0.5}

    def setter(value: float) -> None:
        store["gain"] = value

    def getter() -> float:
        return store["gain"]

    rw.property("/bench/gain", getter, setter, min=0.0, max=1.0)
    robot = rw.robot
    client = app.test_client()
    value = [0.25, 0.75]
    cases = [
        ("set: your setter, direct", lambda i: setter(value[i % 2])),
        ("set: sim param, rw.robot.set_param", lambda i: robot.set_param(
            "/robot/max_linear_speed", value[i % 2])),
        ("set: property, rw.robot.set_param", lambda i: robot.set_param("/bench/gain",
                                                                        value[i % 2])),
        ("set: property, PUT /api/params", lambda i: client.put("/api/params/bench/gain",
                                                                json=value[i % 2])),
        ("get: your getter, direct", lambda i: getter()),
        ("get: sim param, rw.robot.get_param", lambda i: robot.get_param(
            "/robot/max_linear_speed")),
        ("get: property, rw.robot.get_param", lambda i: robot.get_param("/bench/gain")),
        ("get: property, GET /api/params", lambda i: client.get("/api/params/bench/gain")),
    ]  # fmt: skip
    results = {name: rate(args.seconds, op) for name, op in cases}
    print(f"{'case':40} {'ops/s':>12} {'vs direct':>10}")
    direct = {op: results[f"{op}: your {op}ter, direct"] for op in ("set", "get")}
    for name, ops in results.items():
        print(f"{name:40} {ops:12,.0f} {ops / direct[name[:3]]:10.4f}")
    picked = ("set: property, PUT /api/params", "get: property, rw.robot.get_param")
    dump(args.json, [row(n, "ops/s", direct[n[:3]], results[n], True) for n in picked])
    RosWeb.close(app)


if __name__ == "__main__":
    main()
