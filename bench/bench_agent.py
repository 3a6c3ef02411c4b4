"""The agent hop: agent:// against the same graph in-process, measured in the same run.

Backend: the in-process bus (``sim://?robot=0``), so the figures are the cost of the hop alone
(ZeroMQ over an ipc socket, CBOR, the agent's and the client's threads). The agent is a real
``Agent`` in its own process; it also serves a ``bench`` object (``Agent.serve``, the hook the
shared control state uses) that publishes bursts and echoes pings inside the agent.

1. call: sequential ``get_param`` (one request/reply), calls/s; also against the floor of any
   process hop: raw ZeroMQ DEALER/ROUTER request/reply with an echo process, same socket kind.
2. service: sequential ``call_service`` of a std_srvs/Trigger provided in the agent, calls/s.
3. round trip: publish a String on /ping, the agent echoes it to /pong, the caller's
   subscription receives it; sequential, latency p50/p99.
4. fan-out: the agent publishes 200 B Strings at max rate (and 1 kHz) to W worker processes,
   each with one agent:// subscription; delivered msg/s in all and p50 latency. Reference: W
   subscriber callbacks on the bus in one process (in-process delivery, the physical limit).

    python bench/bench_agent.py [--duration 3] [--workers 1,4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from rows import dump, row

from rosweb.agent import Agent

try:
    from rosweb.agent.agent import tune_process
except ImportError:  # a revision before it (bench_all's "before"): the agent did not tune

    def tune_process() -> None:
        pass


from rosweb.graph import Graph, connect
from rosweb.graph.sim import Bus

PAD = "x" * 160


class BenchState:
    """Served by the agent as ``bench``: what must happen inside the agent's process."""

    METHODS = ("setup", "burst")

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._handles: list[Any] = []

    def setup(self) -> None:
        """A Trigger service and a /ping -> /pong echo, inside the agent."""
        if self._handles:
            return
        graph = self.graph
        self._handles.append(
            graph.provide_service("/bench_trigger", "std_srvs/Trigger", lambda r: {"success": True})
        )
        self._handles.append(
            graph.subscribe(
                "/ping", lambda m: graph.publish("/pong", "std_msgs/String", m), "std_msgs/String"
            )
        )

    def burst(self, seconds: float, hz: float) -> None:
        threading.Thread(target=publish_burst, args=(self.graph, seconds, hz), daemon=True).start()


def publish_burst(graph: Graph, seconds: float, hz: float) -> int:
    """Publish 200 B Strings on /fan for ``seconds`` at ``hz`` (0: max), then an END marker."""
    period = 1.0 / hz if hz else 0.0
    start = time.perf_counter()
    sent = 0
    while time.perf_counter() - start < seconds:
        graph.publish("/fan", "std_msgs/String", {"data": f"{time.time()!r}|{PAD}"})
        sent += 1
        if period:
            delay = start + sent * period - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
    for _ in range(3):
        graph.publish("/fan", "std_msgs/String", {"data": f"END|{sent}"})
        time.sleep(0.05)
    return sent


def serve_agent(address: str) -> None:
    tune_process()  # as `rosweb agent` does
    agent = Agent(Bus(url="sim://?robot=0"), address)
    agent.serve("bench", BenchState(agent.graph), BenchState.METHODS)
    agent.start()
    print("READY", flush=True)
    sys.stdin.read()  # until the orchestrator closes our stdin
    agent.close()


def zmq_echo(address: str) -> None:
    """The raw hop: a ROUTER socket that sends every request back, until ``quit``."""
    import zmq

    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.bind(address)
    print("READY", flush=True)
    while True:
        frames = sock.recv_multipart()
        if frames[1] == b"quit":
            break
        sock.send_multipart(frames)
    sock.close(linger=0)
    ctx.term()


def zmq_round_trips(address: str, seconds: float) -> float:
    """Sequential request/reply over raw ZeroMQ (DEALER to the echo process), calls/s."""
    import zmq

    echo = subprocess.Popen(
        [sys.executable, __file__, "--zmq-echo", address], stdout=subprocess.PIPE, text=True
    )
    assert echo.stdout is not None
    assert echo.stdout.readline().strip() == "READY"
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.connect(address)

    def call() -> None:
        sock.send_multipart([b"req", b"x" * 40])
        sock.recv_multipart()

    try:
        return calls_per_second(call, seconds)
    finally:
        sock.send_multipart([b"quit", b""])
        echo.wait(10)
        sock.close(linger=0)
        ctx.term()


def subscriber(url: str) -> None:
    """A worker: count /fan messages and their latency until END; print the figures as JSON."""
    graph = connect(url)
    latencies: list[float] = []
    times: list[float] = []
    done = threading.Event()
    sent = [0]

    def on_message(msg: dict[str, Any]) -> None:
        head = msg["data"].split("|", 1)
        if head[0] == "END":
            sent[0] = int(head[1])
            done.set()
            return
        now = time.time()
        times.append(now)
        latencies.append(now - float(head[0]))

    graph.subscribe("/fan", on_message, "std_msgs/String")
    print("READY", flush=True)
    done.wait(120)
    graph.close()
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
    print(json.dumps({"received": len(times), "sent": sent[0], "span": span, "p50_ms": p50}))


# -- measurements ---------------------------------------------------------------------------------


def calls_per_second(fn: Any, seconds: float) -> float:
    for _ in range(50):
        fn()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        count += 1
    return count / (time.perf_counter() - start)


def round_trip(graph: Graph, seconds: float) -> tuple[float, float]:
    arrived = threading.Event()
    with graph.subscribe("/pong", lambda m: arrived.set(), "std_msgs/String"):
        samples = []
        start = time.perf_counter()
        while time.perf_counter() - start < seconds or len(samples) < 100:
            arrived.clear()
            sent = time.perf_counter()
            graph.publish("/ping", "std_msgs/String", {"data": PAD})
            if not arrived.wait(5):
                raise RuntimeError("no pong")
            samples.append((time.perf_counter() - sent) * 1000)
    samples = samples[20:]
    return statistics.median(samples), statistics.quantiles(samples, n=100)[98]


def fanout_inprocess(workers: int, seconds: float, hz: float) -> tuple[float, float]:
    bus = Bus(url="sim://?robot=0")
    counts = [0] * workers
    latencies: list[float] = []

    def make(i: int) -> Any:
        def on_message(msg: dict[str, Any]) -> None:
            head = msg["data"].split("|", 1)[0]
            if head != "END":
                counts[i] += 1
                if i == 0:
                    latencies.append(time.time() - float(head))

        return on_message

    for i in range(workers):
        bus.subscribe("/fan", make(i), "std_msgs/String")
    start = time.perf_counter()
    publish_burst(bus, seconds, hz)
    elapsed = time.perf_counter() - start - 0.15  # the END markers
    bus.close()
    return sum(counts) / elapsed, statistics.median(latencies) * 1000


def fanout_agent(url: str, bench: Any, workers: int, seconds: float, hz: float) -> dict[str, float]:
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--subscriber", url], stdout=subprocess.PIPE, text=True
        )
        for _ in range(workers)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY"
    time.sleep(0.3)
    bench.burst(seconds, hz)
    results = [json.loads(proc.communicate(timeout=180)[0]) for proc in procs]
    received = sum(r["received"] for r in results)
    sent = results[0]["sent"]
    return {
        "rate": received / seconds,
        "delivered": received / max(1, sent * workers),
        "p50_ms": statistics.median(r["p50_ms"] for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--workers", default="1,4")
    parser.add_argument("--json", help="also write the figures here (for bench/bench_all.py)")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--subscriber", help=argparse.SUPPRESS)
    parser.add_argument("--zmq-echo", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.zmq_echo:
        zmq_echo(args.zmq_echo)
        return
    if args.serve:
        serve_agent(args.serve)
        return
    if args.subscriber:
        subscriber(args.subscriber)
        return
    seconds = args.duration
    tmp = tempfile.mkdtemp(prefix="rosweb-bench-")
    address = f"ipc://{tmp}/agent.sock"
    agent = subprocess.Popen(
        [sys.executable, __file__, "--serve", address],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert agent.stdout is not None
    assert agent.stdout.readline().strip() == "READY"
    url = f"agent://{address}"
    remote = connect(url)
    bench = remote.link.proxy("bench")
    assert bench is not None
    bench.setup()
    local = Bus(url="sim://?robot=0")
    BenchState(local).setup()
    local.set_param("/bench/x", 1.0)
    remote.set_param("/bench/x", 1.0)
    rows: list[tuple[str, str, float, float, bool]] = []  # (case, unit, in-process, agent, higher)

    def add(case: str, unit: str, ref: float, hop: float, higher_is_better: bool) -> None:
        rows.append((case, unit, ref, hop, higher_is_better))
        print(f"  {case}: in-process {ref:,.3g} {unit}, agent:// {hop:,.3g} {unit}", flush=True)

    print(f"agent hop on {os.cpu_count()} cores, {seconds:g} s per case", flush=True)
    get_param = calls_per_second(lambda: remote.get_param("/bench/x"), seconds)
    add("get_param, sequential", "calls/s",
        calls_per_second(lambda: local.get_param("/bench/x"), seconds), get_param,
        True)  # fmt: skip
    add("get_param, sequential, against raw ZeroMQ request/reply", "calls/s",
        zmq_round_trips(f"ipc://{tmp}/echo.sock", seconds), get_param, True)  # fmt: skip
    add("Trigger service, sequential", "calls/s",
        calls_per_second(lambda: local.call_service("/bench_trigger", {}, timeout=5), seconds),
        calls_per_second(lambda: remote.call_service("/bench_trigger", {}, timeout=5), seconds),
        True)  # fmt: skip
    ref_rt, hop_rt = round_trip(local, seconds), round_trip(remote, seconds)
    add("publish -> echo -> subscriber p50", "ms", ref_rt[0], hop_rt[0], False)
    add("publish -> echo -> subscriber p99", "ms", ref_rt[1], hop_rt[1], False)
    for workers in [int(w) for w in args.workers.split(",")]:
        for hz in (1000.0, 0.0):
            label = f"fan-out to {workers} worker(s), {'1 kHz' if hz else 'max rate'}"
            ref_rate, ref_p50 = fanout_inprocess(workers, seconds, hz)
            hop = fanout_agent(url, bench, workers, seconds, hz)
            add(f"{label}, delivered", "msg/s", ref_rate, hop["rate"], True)
            add(f"{label}, p50 latency", "ms", ref_p50, hop["p50_ms"], False)
            print(f"    ({hop['delivered']:.1%} of the agent's messages delivered)", flush=True)
    remote.close()
    local.close()
    agent.stdin.close()  # type: ignore[union-attr]
    agent.wait(20)
    print("\n| case | in-process | agent:// | agent/in-process |")
    print("|---|---:|---:|---:|")
    for case, unit, ref, hop, _ in rows:
        print(f"| {case} | {ref:,.3g} {unit} | {hop:,.3g} {unit} | {hop / ref:.3g} |")
    dump(args.json, [row(f"agent hop: {c}", u, ref, hop, h) for c, u, ref, hop, h in rows])


if __name__ == "__main__":
    main()
