"""rosbridge protocol through rosweb against raw rospy, measured on a real ROS 1 graph in one run.

Each scenario runs twice: with raw rospy on both sides (the reference: the physical limit of
ROS 1 in Python on this machine) and through rosweb (``rosweb run --backend ros1://``, clients
speaking rosbridge v2 over WebSocket); the table gives both and the ratio rosweb/raw.

1. inbound: a WebSocket client publishes std_msgs/String (200 B) as fast as it can to /bench_in;
   a rospy subscriber counts. Reference: a rospy publisher at max rate (queue_size 10000).
2. fan-out: a rospy publisher sends std_msgs/String (200 B) at 100 Hz, 1 kHz and max rate to N
   WebSocket clients subscribed through rosweb. Reference: N rospy subscriber processes.
3. round trip: a WebSocket client publishes /bench_ping at 100 Hz, a rospy node echoes it to
   /bench_pong, the same client receives it. Reference: a rospy node pinging the same echo.
4. service: sequential std_srvs/Trigger calls (call_service, wait for the service_response).
   Reference: rospy.ServiceProxy(persistent=True); and, as a second case, the same client
   against a Tornado server answering each call at once (the WebSocket request/reply floor).
5. images: sensor_msgs/Image 640x480 rgb8 at 30 Hz to one WebSocket client (CBOR, then JSON).
   Reference: one rospy subscriber.

It starts (and always stops) a private master (``rosmaster --core`` on a free port), rosweb
(fresh for each scenario, never running during a reference) and the peers: rospy nodes under
/usr/bin/python3 (bench/rospy_peer.py), WebSocket clients under this venv (bench/ws_peer.py).
No figure is asserted: this is a measurement tool.

    .venv/bin/python bench/bench_bridge.py [--quick] [--duration 5] [--only fanout,images]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import itertools
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import xmlrpc.client
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROS_PYTHON = "/usr/bin/python3"  # Debian's rospy is built for the system's Python
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SCENARIOS = ("inbound", "refused", "fanout", "roundtrip", "service", "images")


class BenchError(RuntimeError):
    """A process of the benchmark failed or did not answer in time."""


def free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port != 11311:  # never the default master's port
            return port


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (all its threads), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def flags(options: dict[str, object]) -> list[str]:
    """``{"queue_size": 10}`` as ``["--queue-size", "10"]``."""
    return [x for k, v in options.items() for x in (f"--{k.replace('_', '-')}", str(v))]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


# -- processes ------------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    group: str  # master, rosweb, client (WebSocket), peer (rospy)
    proc: subprocess.Popen[str]
    log: Path
    lines: queue.Queue[str] = field(default_factory=queue.Queue)

    @property
    def pid(self) -> int:
        return self.proc.pid


class Processes:
    """Every process the benchmark starts: spawned in their own session (Ctrl-C reaches only us),
    killed by the kernel if we die (PR_SET_PDEATHSIG), stopped by :meth:`cleanup` in any case.

    ``MARK start TAG`` / ``MARK end TAG`` lines on a child's stdout take a snapshot of the CPU
    times of every live child, so :meth:`cpu` tells each group's CPU % over that window.
    """

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self.children: list[Child] = []
        self.marks: dict[str, dict[str, tuple[float, dict[int, tuple[str, float]]]]] = {}
        self._lock = threading.Lock()
        self._count = 0

    def spawn(
        self, name: str, group: str, argv: list[str], env: dict[str, str] | None = None
    ) -> Child:
        self._count += 1
        log = self.workdir / f"{self._count:03d}-{name}.log"
        with open(log, "w") as err:
            proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--exec", *argv],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=self.env | (env or {}),
                start_new_session=True,
                bufsize=1,
            )
        child = Child(name, group, proc, log)
        with self._lock:
            self.children.append(child)
        threading.Thread(target=self._read, args=(child,), daemon=True).start()
        return child

    def peer(self, mode: str, **options: object) -> Child:
        """A rospy node: ``bench/rospy_peer.py MODE --option value...`` under /usr/bin/python3."""
        argv = [ROS_PYTHON, str(HERE / "rospy_peer.py"), mode, *flags(options)]
        return self.spawn(f"rospy-{mode}", "peer", argv)

    def client(self, mode: str, **options: object) -> Child:
        """A WebSocket client: ``bench/ws_peer.py MODE --option value...`` under this venv."""
        argv = [sys.executable, str(HERE / "ws_peer.py"), mode, *flags(options)]
        return self.spawn(f"ws-{mode}", "client", argv)

    def _read(self, child: Child) -> None:
        assert child.proc.stdout is not None
        for line in child.proc.stdout:
            words = line.split()
            if len(words) == 3 and words[0] == "MARK":
                self._snapshot(words[2], words[1])
            child.lines.put(line.strip())

    def _snapshot(self, tag: str, edge: str) -> None:
        now = time.monotonic()
        with self._lock:
            live = [c for c in self.children if c.proc.poll() is None]
        times = {}
        for c in live:
            seconds = cpu_seconds(c.pid)
            if seconds is not None:
                times[c.pid] = (c.group, seconds)
        self.marks.setdefault(tag, {})[edge] = (now, times)

    def cpu(self, tag: str) -> dict[str, float]:
        """CPU % of one core per group between ``MARK start tag`` and ``MARK end tag``."""
        mark = self.marks.get(tag, {})
        if "start" not in mark or "end" not in mark:
            return {}
        (t0, before), (t1, after) = mark["start"], mark["end"]
        result: dict[str, float] = {}
        for pid, (group, seconds) in after.items():
            if pid in before:
                result[group] = result.get(group, 0.0) + seconds - before[pid][1]
        return {group: 100 * seconds / (t1 - t0) for group, seconds in result.items()}

    def wait(self, child: Child, word: str, timeout: float = 60.0) -> None:
        """Wait until the child prints ``word`` on a line of its own."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = child.lines.get(timeout=0.1)
            except queue.Empty:
                if child.proc.poll() is not None:
                    raise BenchError(self.failure(child, f"exited before {word}")) from None
                if time.monotonic() > deadline:
                    raise BenchError(self.failure(child, f"no {word} in {timeout:.0f} s")) from None
                continue
            if line == word:
                return

    def wait_exit(self, child: Child, timeout: float) -> None:
        try:
            code = child.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BenchError(self.failure(child, f"still running after {timeout:.0f} s")) from None
        if code != 0:
            raise BenchError(self.failure(child, f"exited with {code}"))

    def finish(self, *children: Child, timeout: float = 60.0) -> None:
        """Close the children's stdin (they report and exit) and wait for them."""
        for child in children:
            with contextlib.suppress(OSError):
                assert child.proc.stdin is not None
                child.proc.stdin.close()
        for child in children:
            self.wait_exit(child, timeout)

    def say(self, child: Child, line: str) -> None:
        assert child.proc.stdin is not None
        child.proc.stdin.write(line + "\n")
        child.proc.stdin.flush()

    def failure(self, child: Child, what: str) -> str:
        tail = child.log.read_text(errors="replace").strip().splitlines()[-15:]
        return f"{child.name} (pid {child.pid}) {what}; its stderr ({child.log}) ends:\n" + (
            "\n".join(tail) if tail else "(empty)"
        )

    def stop(self, child: Child, timeout: float = 10.0) -> None:
        if child.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert child.proc.stdin is not None
                child.proc.stdin.close()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
            try:
                child.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.proc.wait()
        with self._lock:
            if child in self.children:
                self.children.remove(child)

    def cleanup(self, keep: set[str] | frozenset[str] = frozenset()) -> None:
        """Stop every child (but those of the groups in ``keep``), newest first."""
        for child in reversed(list(self.children)):
            if child.group not in keep:
                self.stop(child, timeout=5.0)


# -- the graph: master and rosweb -----------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.master_port = free_port()
        self.master_uri = f"http://127.0.0.1:{self.master_port}"
        ros_home = workdir / "ros_home"
        ros_home.mkdir()
        env = os.environ | {
            "ROS_MASTER_URI": self.master_uri,
            "ROS_IP": "127.0.0.1",
            "ROS_HOME": str(ros_home),
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("ROS_HOSTNAME", None)
        self.procs = Processes(workdir, env)
        self._out = 0
        #: the rosweb runs measured against the raw reference: (name, extra environment); with
        #: ``--before SRC``, the rosweb of SRC (a checkout's ``src/``) runs first as "before"
        self.variants: list[tuple[str, dict[str, str]]] = [("rosweb", {})]
        if args.before:
            before = {"PYTHONPATH": str(Path(args.before).resolve())}
            self.variants.insert(0, ("before", before))

    def out(self, name: str) -> Path:
        self._out += 1
        return self.workdir / f"{self._out:03d}-{name}.json"

    def start_master(self) -> None:
        rosmaster = shutil.which("rosmaster")
        if rosmaster is None:
            raise BenchError("rosmaster not found: apt-get install python3-rosmaster")
        child = self.procs.spawn(
            "rosmaster", "master", [rosmaster, "--core", "-p", str(self.master_port)]
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with xmlrpc.client.ServerProxy(self.master_uri) as master:
                    master.getPid("/bench")
                return
            except OSError:
                if child.proc.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(self.procs.failure(child, "did not start")) from None
                time.sleep(0.1)

    @contextlib.contextmanager
    def rosweb(self, variant: str = "rosweb", **settings: str) -> Iterator[str]:
        """A fresh ``rosweb run --backend ros1://`` for one scenario; yields its rosbridge URL."""
        import requests

        port = free_port()
        script = Path(sys.executable).with_name("rosweb")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "rosweb.cli"]
        run = f"run --backend ros1://?node=/rosweb_bench --port {port} --log-level warning"
        extra = dict(self.variants)[variant] | settings  # ROSWEB_* settings by environment
        child = self.procs.spawn(f"rosweb-{variant}", "rosweb", [*command, *run.split()], extra)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if child.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(self.procs.failure(child, "did not become healthy"))
            time.sleep(0.2)
        try:
            yield f"ws://127.0.0.1:{port}/ws"
        finally:
            self.procs.stop(child)


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def ms(value: float | None) -> float | None:
    return None if value is None else value * 1000


# -- scenarios ------------------------------------------------------------------------------
# Each returns rows: {"scenario", "case", "variant" ("raw", "before" or "rosweb"), figures...,
# "cpu"}.


#: inbound runs at rosweb's default settings, then without its WebSocket rate limit (what rosweb
#: itself can take): (case suffix, settings)
INBOUND_SETTINGS = (("", {}), (", no rate limit", {"ROSWEB_WS_RATE_LIMIT": ""}))


def inbound(bench: Bench) -> list[dict[str, Any]]:
    procs, d, warm = bench.procs, bench.args.duration, bench.args.warm
    rows = []

    def figures(variant: str, sent: dict[str, Any], got: dict[str, Any]) -> dict[str, Any]:
        phase = sent["phases"]["rmax"]
        tag = got["tags"].get("rmax", {"count": 0, "first": 0, "last": 0, "latency": []})
        window = tag["last"] - tag["first"]
        return {
            "scenario": "inbound",
            "case": "String 200 B, max rate",
            "variant": variant,
            "sent": phase["sent"],
            "sent_rate": phase["sent"] / phase["duration"],
            "received": tag["count"],
            "received_rate": tag["count"] / window if window > 0 else 0.0,
            "loss_pct": 100 * (phase["sent"] - tag["count"]) / max(1, phase["sent"]),
            "p50_ms": ms(percentile(tag["latency"], 50)),
            "p99_ms": ms(percentile(tag["latency"], 99)),
            "cpu": procs.cpu("rmax"),
            "status": sent.get("status_count", 0),
        }

    out_sub, out_pub = bench.out("inbound-raw-sub"), bench.out("inbound-raw-pub")
    sub = procs.peer("sub", topic="/bench_in", out=out_sub)
    procs.wait(sub, "READY")
    pub = procs.peer(
        "pub",
        topic="/bench_in",
        rates="max",
        duration=d,
        queue_size=10000,
        warm=warm,
        gap=bench.args.gap,
        out=out_pub,
    )
    procs.wait_exit(pub, d + 90)
    procs.finish(sub)
    raw = figures("raw", load(out_pub), load(out_sub))
    rows += [raw | {"case": raw["case"] + label} for label, _ in INBOUND_SETTINGS]

    for (variant, _), (label, settings) in itertools.product(bench.variants, INBOUND_SETTINGS):
        with bench.rosweb(variant, **settings) as url:
            out_sub = bench.out(f"inbound{label}-{variant}-sub")
            out_client = bench.out(f"inbound{label}-{variant}-client")
            sub = procs.peer("sub", topic="/bench_in", out=out_sub)
            procs.wait(sub, "READY")
            client = procs.client("publish", url=url, topic="/bench_in", duration=d, out=out_client)
            procs.wait(client, "READY")
            started = time.monotonic()
            procs.wait(sub, "FIRST")
            # the same warm-up as the reference (meanwhile rosweb's cache subscribes the topic too)
            time.sleep(max(0.0, warm - (time.monotonic() - started)))
            procs.say(client, "go")
            procs.wait_exit(client, d + 90)
            procs.finish(sub)
            row = figures(variant, load(out_client), load(out_sub))
            rows.append(row | {"case": row["case"] + label})
    return rows


def refused(bench: Bench) -> list[dict[str, Any]]:
    """What refusing a flood over ROSWEB_WS_RATE_LIMIT costs: a client publishes as fast as its
    socket takes it to a rosweb limited to 10 writes a second (so nearly every frame is
    refused); rosweb's CPU per frame sent. No raw reference (rospy has no rate limit)."""
    procs, d = bench.procs, bench.args.duration
    case = "String 200 B at max rate, limit 10/s"
    rows: list[dict[str, Any]] = [
        {"scenario": "refused", "case": case, "variant": "raw", "cpu": {}}
    ]
    for variant, _ in bench.variants:
        with bench.rosweb(variant, ROSWEB_WS_RATE_LIMIT="10/second") as url:
            out = bench.out(f"refused-{variant}-client")
            client = procs.client("publish", url=url, topic="/bench_refused", duration=d, out=out)
            procs.wait(client, "READY")
            procs.say(client, "go")
            procs.wait_exit(client, d + 90)
            result = load(out)
            phase = result["phases"]["rmax"]
            cpu = procs.cpu("rmax")
            rate = phase["sent"] / phase["duration"]
            rows.append(
                {
                    "scenario": "refused",
                    "case": case,
                    "variant": variant,
                    "sent_rate": rate,
                    "replies": result.get("status_count", 0),
                    "us_per_frame": 1e4 * cpu.get("rosweb", 0.0) / rate if rate else None,
                    "cpu": cpu,
                }
            )
    return rows


def fanout(bench: Bench) -> list[dict[str, Any]]:
    procs, args = bench.procs, bench.args
    d = args.duration
    rows = []

    def figures(
        variant: str,
        n: int,
        rates: str,
        sent: dict[str, Any],
        results: list[dict[str, Any]],
        client_procs: int,
    ) -> list[dict[str, Any]]:
        out = []
        for rate in rates.split(","):
            tag = f"r{rate}"
            phase = sent["phases"][tag]
            count = sum(r["tags"].get(tag, {}).get("count", 0) for r in results)
            latency = [x for r in results for x in r["tags"].get(tag, {}).get("latency", [])]
            if variant != "raw":  # one result per client process, several connections
                per_connection = [c.get(tag, 0) for r in results for c in r["per_connection"]]
            else:  # one result per subscriber process
                per_connection = [r["tags"].get(tag, {}).get("count", 0) for r in results]
            out.append(
                {
                    "scenario": "fan-out",
                    "case": f"N={n}, {rate if rate == 'max' else rate + ' Hz'}",
                    "variant": variant,
                    "n": n,
                    "rate": rate,
                    "sent": phase["sent"],
                    "sent_rate": phase["sent"] / phase["duration"],
                    "delivered": count,
                    "delivered_rate": count / phase["duration"],
                    "delivered_pct": 100 * count / max(1, phase["sent"] * n),
                    "min_client": min(per_connection) if per_connection else 0,
                    "max_client": max(per_connection) if per_connection else 0,
                    "p50_ms": ms(percentile(latency, 50)),
                    "p99_ms": ms(percentile(latency, 99)),
                    "cpu": procs.cpu(tag),  # the marks of the run just finished
                    "client_procs": client_procs,
                    "status": sum(r.get("status_count", 0) for r in results),
                }
            )
        return out

    def publisher(n_connections: int, rates: str, label: str) -> tuple[Any, Path]:
        out = bench.out(f"fanout-{label}-pub")
        pub = procs.peer(
            "pub",
            topic="/bench_fan",
            rates=rates,
            duration=d,
            queue_size=args.pub_queue,
            connections=n_connections,
            warm=args.warm,
            gap=args.gap,
            out=out,
        )
        return pub, out

    for n, rates in args.fanout:
        timeout = len(rates.split(",")) * (d + args.gap) + 120
        outs = [bench.out(f"fanout-raw-{n}-sub{i}") for i in range(n)]
        subs = [procs.peer("sub", topic="/bench_fan", out=o) for o in outs]
        for sub in subs:
            procs.wait(sub, "READY", timeout=120)
        pub, out_pub = publisher(n, rates, f"raw-{n}")
        procs.wait_exit(pub, timeout)
        procs.finish(*subs)
        rows += figures("raw", n, rates, load(out_pub), [load(o) for o in outs], n)

    for variant, _ in bench.variants:
        with bench.rosweb(variant) as url:
            for n, rates in args.fanout:
                timeout = len(rates.split(",")) * (d + args.gap) + 120
                k = max(1, min(n, args.client_procs))
                sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
                outs = [bench.out(f"fanout-{variant}-{n}-client{i}") for i in range(k)]
                clients = [
                    procs.client(
                        "subscribe",
                        url=url,
                        topic="/bench_fan",
                        connections=size,
                        queue_length=args.queue_length,
                        out=o,
                    )
                    for size, o in zip(sizes, outs, strict=True)
                ]
                for client in clients:
                    procs.wait(client, "READY", timeout=120)
                pub, out_pub = publisher(1, rates, f"{variant}-{n}")
                procs.wait_exit(pub, timeout)
                procs.finish(*clients)
                rows += figures(variant, n, rates, load(out_pub), [load(o) for o in outs], k)
    return rows


def roundtrip(bench: Bench) -> list[dict[str, Any]]:
    procs, d = bench.procs, bench.args.duration
    rows = []

    def figures(variant: str, result: dict[str, Any]) -> dict[str, Any]:
        phase = result["phases"]["m"]
        tag = result["tags"].get("m", {"count": 0, "latency": []})
        return {
            "scenario": "round trip",
            "case": "String 200 B at 100 Hz",
            "variant": variant,
            "sent": phase["sent"],
            "received": tag["count"],
            "p50_ms": ms(percentile(tag["latency"], 50)),
            "p99_ms": ms(percentile(tag["latency"], 99)),
            "max_ms": ms(max(tag["latency"], default=None)),
            "out_p50_ms": ms(percentile(tag.get("out", []), 50)),
            "back_p50_ms": ms(percentile(tag.get("back", []), 50)),
            "cpu": procs.cpu("m"),
            "status": result.get("status_count", 0),
        }

    echo = procs.peer("echo")
    procs.wait(echo, "READY")
    out = bench.out("roundtrip-raw")
    ping = procs.peer("ping", rate=100, duration=d, warm=bench.args.warm, out=out)
    procs.wait_exit(ping, d + 90)
    procs.finish(echo)
    rows.append(figures("raw", load(out)))

    for variant, _ in bench.variants:
        with bench.rosweb(variant) as url:
            echo = procs.peer("echo")
            procs.wait(echo, "READY")
            out = bench.out(f"roundtrip-{variant}")
            ping = procs.client(
                "ping", url=url, rate=100, duration=d, warm=bench.args.warm, out=out
            )
            procs.wait_exit(ping, d + 90)
            procs.finish(echo)
            rows.append(figures(variant, load(out)))
    return rows


def service(bench: Bench) -> list[dict[str, Any]]:
    procs, d = bench.procs, bench.args.duration
    rows = []

    def figures(variant: str, result: dict[str, Any]) -> dict[str, Any]:
        return {
            "scenario": "service",
            "case": "std_srvs/Trigger, sequential",
            "variant": variant,
            "calls": result["calls"],
            "calls_rate": result["calls"] / result["duration"],
            "p50_ms": ms(percentile(result["latency"], 50)),
            "p99_ms": ms(percentile(result["latency"], 99)),
            "cpu": procs.cpu("m"),
            "status": result.get("failure_count", 0),
        }

    server = procs.peer("trigger_server")
    procs.wait(server, "READY")
    out = bench.out("service-raw")
    caller = procs.peer("trigger_client", duration=d, out=out)
    procs.wait_exit(caller, d + 90)
    procs.finish(server)
    rows.append(figures("raw", load(out)))

    # the floor of the WebSocket side alone: the same client against a Tornado server that
    # answers every call at once (no ROS, no rosweb)
    url = f"ws://127.0.0.1:{free_port()}/ws"
    argv = [sys.executable, str(HERE / "ws_peer.py"), "echo_server", "--url", url]
    echo = procs.spawn("ws-echo", "rosweb", argv)
    procs.wait(echo, "READY")
    out = bench.out("service-echo")
    caller = procs.client("call", url=url, duration=d, out=out)
    procs.wait_exit(caller, d + 90)
    procs.stop(echo)
    rows.append(figures("raw", load(out)) | {"case": SERVICE_ECHO_CASE})

    for variant, _ in bench.variants:
        with bench.rosweb(variant) as url:
            server = procs.peer("trigger_server")
            procs.wait(server, "READY")
            out = bench.out(f"service-{variant}")
            caller = procs.client("call", url=url, duration=d, out=out)
            procs.wait_exit(caller, d + 90)
            procs.finish(server)
            row = figures(variant, load(out))
            rows += [row, row | {"case": SERVICE_ECHO_CASE}]
    return rows


#: the service case again, its raw figure the WebSocket request/reply floor instead of rospy's
SERVICE_ECHO_CASE = "std_srvs/Trigger, sequential, against a WebSocket echo"


def images(bench: Bench) -> list[dict[str, Any]]:
    procs, d = bench.procs, bench.args.duration
    rows = []

    def figures(
        case: str, variant: str, sent: dict[str, Any], got: dict[str, Any]
    ) -> dict[str, Any]:
        phase = sent["phases"]["m"]
        tag = got["tags"].get("m", {"count": 0, "latency": []})
        return {
            "scenario": "images",
            "case": case,
            "variant": variant,
            "sent": phase["sent"],
            "received": tag["count"],
            "sent_fps": phase["sent"] / phase["duration"],
            "fps": tag["count"] / phase["duration"],
            "p50_ms": ms(percentile(tag["latency"], 50)),
            "p99_ms": ms(percentile(tag["latency"], 99)),
            "cpu": procs.cpu("m"),
            "status": got.get("status_count", 0) + got.get("bad_frames", 0),
        }

    def publisher(label: str) -> tuple[Any, Path]:
        out = bench.out(f"images-{label}-pub")
        pub = procs.peer(
            "imgpub",
            topic="/bench_image",
            rate=30,
            duration=d,
            warm=bench.args.warm,
            gap=bench.args.gap,
            out=out,
        )
        return pub, out

    out_sub = bench.out("images-raw-sub")
    sub = procs.peer("sub", topic="/bench_image", kind="image", out=out_sub)
    procs.wait(sub, "READY")
    pub, out_pub = publisher("raw")
    procs.wait_exit(pub, d + 90)
    procs.finish(sub)
    raw = figures("640x480 rgb8 at 30 Hz", "raw", load(out_pub), load(out_sub))

    for variant, _ in bench.variants:
        with bench.rosweb(variant) as url:
            for compression in ("cbor", "none"):
                out_client = bench.out(f"images-{variant}-{compression}")
                client = procs.client(
                    "subscribe",
                    url=url,
                    topic="/bench_image",
                    kind="image",
                    compression=compression,
                    queue_length=1,
                    out=out_client,
                )
                procs.wait(client, "READY")
                pub, out_pub = publisher(f"{variant}-{compression}")
                procs.wait_exit(pub, d + 90)
                procs.finish(client)
                case = f"640x480 rgb8 at 30 Hz, {'CBOR' if compression == 'cbor' else 'JSON'}"
                row = figures(case, variant, load(out_pub), load(out_client))
                if variant == bench.variants[0][0]:  # one reference for both cases
                    rows.append({**raw, "case": case})
                rows.append(row)
    return rows


RUNNERS = {
    "inbound": inbound,
    "refused": refused,
    "fanout": fanout,
    "roundtrip": roundtrip,
    "service": service,
    "images": images,
}

# -- report ---------------------------------------------------------------------------------

#: per scenario: (figure key, label, higher is better)
METRICS = {
    "inbound": [
        ("sent_rate", "sent msg/s", True),
        ("received_rate", "received msg/s", True),
        ("loss_pct", "loss %", False),
        ("p50_ms", "latency p50 ms", False),
        ("p99_ms", "latency p99 ms", False),
    ],
    "refused": [
        ("sent_rate", "sent msg/s", True),
        ("replies", "status replies", False),
        ("us_per_frame", "rosweb CPU us per frame", False),
    ],
    "fan-out": [
        ("delivered_rate", "delivered msg/s (total)", True),
        ("delivered_pct", "delivered % of sent x N", True),
        ("p50_ms", "latency p50 ms", False),
        ("p99_ms", "latency p99 ms", False),
    ],
    "round trip": [
        ("p50_ms", "p50 ms", False),
        ("p99_ms", "p99 ms", False),
        ("max_ms", "max ms", False),
        ("out_p50_ms", "leg to the echo node p50 ms", False),
        ("back_p50_ms", "leg back from the echo node p50 ms", False),
        ("received", "pongs received", True),
    ],
    "service": [
        ("calls_rate", "calls/s", True),
        ("p50_ms", "call p50 ms", False),
        ("p99_ms", "call p99 ms", False),
    ],
    "images": [
        ("fps", "received fps", True),
        ("p50_ms", "latency p50 ms", False),
        ("p99_ms", "latency p99 ms", False),
    ],
}


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def pairs(
    rows: list[dict[str, Any]], variant: str = "rosweb"
) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(raw row, row of ``variant``) per (scenario, case), in order."""
    raws = {(r["scenario"], r["case"]): r for r in rows if r["variant"] == "raw"}
    webs = {(r["scenario"], r["case"]): r for r in rows if r["variant"] == variant}
    return [(raws[key], webs.get(key)) for key in raws]


def ratio(a: Any, b: Any) -> str:
    return fmt(b / a) if isinstance(a, int | float) and a and b is not None else "-"


def table(rows: list[dict[str, Any]]) -> str:
    before = {(r["scenario"], r["case"]): r for r in rows if r["variant"] == "before"}
    head = "| scenario | case | metric | raw rospy | "
    head += "before | after | after/raw | after/before |" if before else "rosweb | rosweb/raw |"
    lines = [head, "|---|---|---|" + "---:|" * (5 if before else 3)]
    for raw, web in pairs(rows):
        for key, label, _ in METRICS[raw["scenario"]]:
            a, b = raw.get(key), (web or {}).get(key)
            line = f"| {raw['scenario']} | {raw['case']} | {label} | {fmt(a)} | "
            if before:
                c = before.get((raw["scenario"], raw["case"]), {}).get(key)
                line += f"{fmt(c)} | {fmt(b)} | {ratio(a, b)} | {ratio(c, b)} |"
            else:
                line += f"{fmt(b)} | {ratio(a, b)} |"
            lines.append(line)
    return "\n".join(lines)


def cpu_table(rows: list[dict[str, Any]]) -> str:
    before = {
        (r["scenario"], r["case"]): r.get("cpu", {}).get("rosweb")
        for r in rows
        if r["variant"] == "before"
    }
    lines = [
        "| scenario | case | raw: rospy peers | raw: master | before: rosweb | rosweb: rosweb "
        "| rosweb: ws clients | rosweb: rospy peers | rosweb: master | rosweb: total |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for raw, web in pairs(rows):
        cpu = (web or {}).get("cpu", {})
        total = sum(cpu.values()) if cpu else None
        clients = fmt(cpu.get("client"))
        if web is not None and web.get("client_procs"):
            clients += f" ({web['client_procs']} proc.)"
        lines.append(
            f"| {raw['scenario']} | {raw['case']} | {fmt(raw['cpu'].get('peer'))} "
            f"| {fmt(raw['cpu'].get('master'))} "
            f"| {fmt(before.get((raw['scenario'], raw['case'])))} | {fmt(cpu.get('rosweb'))} "
            f"| {clients} | {fmt(cpu.get('peer'))} | {fmt(cpu.get('master'))} | {fmt(total)} |"
        )
    return "\n".join(lines)


def targets(rows: list[dict[str, Any]]) -> list[str]:
    """The issue's targets, each with the measured figure: met or not."""
    find = {(r["scenario"], r["case"], r["variant"]): r for r in rows}
    out = []

    def verdict(ok: bool | None, text: str) -> None:
        out.append(f"- {'MET' if ok else 'NOT MET' if ok is not None else 'NOT RUN'}: {text}")

    web = find.get(("inbound", "String 200 B, max rate", "rosweb"))
    raw = find.get(("inbound", "String 200 B, max rate", "raw"))
    if web and raw:
        share = web["received_rate"] / raw["received_rate"] if raw["received_rate"] else 0.0
        verdict(
            share >= 0.9 and web["sent"] == web["received"],
            f"inbound >= 90% of raw rospy's received rate with 0 loss: "
            f"{web['received_rate']:,.0f} msg/s = {100 * share:.0f}% of raw "
            f"({raw['received_rate']:,.0f}), loss {web['loss_pct']:.2f}% "
            f"({web['sent'] - web['received']:,} of {web['sent']:,})",
        )
    fan = find.get(("fan-out", "N=10, max", "rosweb"))
    if fan:
        ok = fan["delivered_rate"] >= 38000 and (fan["p99_ms"] or 1e9) < 100
        verdict(
            ok,
            f"fan-out N=10 at max rate >= 38,000 msg/s total with p99 < 100 ms: "
            f"{fan['delivered_rate']:,.0f} msg/s, p99 {fmt(fan['p99_ms'])} ms",
        )
    fan = find.get(("fan-out", "N=10, 1000 Hz", "rosweb"))
    if fan:
        verdict(
            (fan["p50_ms"] or 1e9) <= 2.0,
            f"fan-out N=10 at 1 kHz p50 <= 2 ms: p50 {fmt(fan['p50_ms'])} ms "
            f"({fan['delivered_pct']:.1f}% delivered)",
        )
    trip = find.get(("round trip", "String 200 B at 100 Hz", "rosweb"))
    if trip:
        ok = (trip["p50_ms"] or 1e9) <= 0.8 and (trip["p99_ms"] or 1e9) <= 1.5
        verdict(
            ok, f"round trip p50/p99 <= 0.8/1.5 ms: {fmt(trip['p50_ms'])}/{fmt(trip['p99_ms'])} ms"
        )
    call = find.get(("service", "std_srvs/Trigger, sequential", "rosweb"))
    if call:
        verdict(
            call["calls_rate"] >= 2000,
            f"Trigger >= 2,000 calls/s: {call['calls_rate']:,.0f} calls/s",
        )
    image = find.get(("images", "640x480 rgb8 at 30 Hz, CBOR", "rosweb"))
    if image:
        verdict(
            image["fps"] >= 29.5 and not image["status"],
            f"images 30 fps with CBOR: {image['fps']:.1f} fps "
            f"({image['received']} of {image['sent']} frames)",
        )
    return out


# -- main -----------------------------------------------------------------------------------


def measured_source() -> str:
    """Which rosweb is measured: its version, commit, and whether src/ has local changes."""
    from rosweb import __version__

    root = HERE.parent

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown commit"
    dirty = " with local changes in src/" if git("status", "--porcelain", "--", "src") else ""
    return f"rosweb {__version__} at {commit}{dirty}"


def exec_with_parent_death(argv: list[str]) -> None:
    """``--exec CMD...``: become CMD, to be SIGTERMed when the benchmark dies (however)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:
        sys.exit(1)
    os.execv(argv[0], argv)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run (about a minute): 0.5 s per case, short warm-ups, fan-out N=2 only",
    )
    parser.add_argument("--duration", type=float, help="seconds per measured case (default 5)")
    parser.add_argument("--only", help=f"comma-separated scenarios of {','.join(SCENARIOS)}")
    parser.add_argument("--fanout-n", help="comma-separated client counts (default 1,10,50)")
    parser.add_argument("--rates", default="100,1000,max", help="fan-out publish rates")
    parser.add_argument(
        "--fanout-cases",
        help="fan-out cases as N:RATE+RATE,... (e.g. 1:1000+5000,10:max,50:1000); "
        "replaces --fanout-n and --rates",
    )
    parser.add_argument(
        "--before",
        help="also run the rosweb of this src/ directory (a checkout of an older revision) "
        'as "before", in the same run',
    )
    parser.add_argument(
        "--client-procs",
        type=int,
        default=2,
        help="WebSocket client processes sharing the fan-out connections",
    )
    parser.add_argument(
        "--queue-length",
        type=int,
        default=100,
        help="rosbridge queue_length of each fan-out subscription",
    )
    parser.add_argument(
        "--pub-queue",
        default="none",
        help="fan-out publisher's queue_size (none: synchronous publish)",
    )
    parser.add_argument("--warm", type=float, help="warm-up seconds before each case (1.5)")
    parser.add_argument("--gap", type=float, help="idle seconds after each fan-out rate (1)")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--keep", action="store_true", help="keep the logs' directory")
    args = parser.parse_args()
    args.duration = args.duration or (0.5 if args.quick else 5.0)
    args.warm = args.warm if args.warm is not None else (0.5 if args.quick else 1.5)
    args.gap = args.gap if args.gap is not None else (0.3 if args.quick else 1.0)
    fanout_n = args.fanout_n or ("2" if args.quick else "1,10,50")
    args.fanout_n = [int(n) for n in fanout_n.split(",")]
    args.fanout = [(n, args.rates) for n in args.fanout_n]
    if args.fanout_cases:
        cases = [case.split(":") for case in args.fanout_cases.split(",")]
        args.fanout = [(int(n), rates.replace("+", ",")) for n, rates in cases]
    args.only = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = set(args.only) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario {sorted(unknown)[0]!r}; known: {', '.join(SCENARIOS)}")
    return args


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--exec":
        exec_with_parent_death(sys.argv[2:])
    args = parse_args()
    if not os.path.exists(ROS_PYTHON):
        print(f"bench_bridge: {ROS_PYTHON} (with Debian's rospy) is required", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="rosweb-bench-"))
    bench = Bench(args, workdir)

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in background
    rows: list[dict[str, Any]] = []
    failed = False
    started = time.monotonic()
    try:
        bench.start_master()
        print(
            f"bench_bridge: master at {bench.master_uri}, {os.cpu_count()} cores, "
            f"{args.duration:g} s per case, logs in {workdir}",
            file=sys.stderr,
        )
        for name in args.only:
            t0 = time.monotonic()
            print(f"bench_bridge: {name} ...", file=sys.stderr, flush=True)
            try:
                rows += RUNNERS[name](bench)
            except BenchError as err:  # report, stop what it left running, go on
                print(f"bench_bridge: {name} failed: {err}", file=sys.stderr)
                failed = True
                bench.procs.cleanup(keep={"master"})
                continue
            print(f"bench_bridge: {name} done in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    except KeyboardInterrupt:
        print("bench_bridge: interrupted", file=sys.stderr)
        failed = True
    except BenchError as err:
        print(f"bench_bridge: {err}", file=sys.stderr)
        failed = True
    finally:
        bench.procs.cleanup()
    if rows:
        print(f"{measured_source()}; {os.cpu_count()} cores; {args.duration:g} s per case")
        print(
            f"\n{table(rows)}\n\nCPU % of one core during the measured window "
            f"(2 cores = 200%):\n\n{cpu_table(rows)}\n\nTargets:\n" + "\n".join(targets(rows))
        )
        for row in rows:  # figures taken while rosweb answered errors are suspect: say so
            if row.get("status"):
                print(
                    f"WARNING: {row['scenario']}, {row['case']} ({row['variant']}): "
                    f"{row['status']} error replies, status messages or bad frames; "
                    f"see the logs"
                )
        print(f"\n({time.monotonic() - started:.0f} s in all)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.keep or failed:
        print(f"bench_bridge: logs kept in {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
