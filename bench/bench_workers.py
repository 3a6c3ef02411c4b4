"""``rosweb run --workers 2`` against one process (issue 15, "Many cores"), on a real ROS 1 graph.

Cases, each on a fresh ``rosweb run --backend ros1://`` (``--workers 1``: a plain ``rosweb run``,
no agent; ``--workers 2``: two web workers sharing one agent), alternating 1 and 2 workers:

- fan-out: a rospy publisher sends std_msgs/String (200 B) at 1 kHz (synchronous publish, as in
  bench_bridge.py) to N rosbridge WebSocket subscribers (``queue_length`` 100), spread over
  ``--client-procs`` client processes (bench/workers_peer.py: a lean hand-written client, as
  ws_peer.py's websockets costs ~60 us a frame, too much for 100k frames/s on the same 2
  cores): delivered msg/s (total) and % of N x sent, p50/p99 latency (send to receive).
- MJPEG: a rospy publisher sends sensor_msgs/Image 640x480 rgb8 at 30 Hz; V viewers of
  ``/stream/bench_image.mjpg`` (raw HTTP/1.0, in ``--client-procs`` processes): min/mean fps.

CPU (% of one core, 2 cores = 200%) over the measured window, per process: rosweb's parent,
agent and each worker (the descendants of ``rosweb run``, from /proc), the clients, the rospy
publisher, softirq (the kernel's loopback TCP, in no process), the whole machine (/proc/stat)
and "other" (the rest: other work on a shared machine). Connections
per worker: ESTABLISHED sockets on rosweb's port held by each worker (/proc/net/tcp).

    .venv/bin/python bench/bench_workers.py [--seconds 5] [--cases 100:1000,200:1000,400:1000]
        [--viewers 20,300] [--only ws,mjpeg] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
from bench_bridge import (
    CLOCK_TICKS,
    Bench,
    BenchError,
    Child,
    Processes,
    cpu_seconds,
    free_port,
    load,
    percentile,
)
from rows import dump, row
from workers_peer import FAN_TOPIC, IMAGE_TOPIC

PEER = Path(__file__).resolve().with_name("workers_peer.py")  # the client processes


# -- processes: rosweb's tree, its connections ---------------------------------------------


def descendants(root: int) -> dict[int, str]:
    """Every process under ``root`` (from /proc): pid -> "agent" or "worker"."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                parents.setdefault(int(stat[1]), []).append(int(entry))
    found: dict[int, str] = {}
    todo = list(parents.get(root, []))
    while todo:
        pid = todo.pop()
        with contextlib.suppress(OSError):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            found[pid] = "agent" if b"agent" in argv else "worker"
        todo += parents.get(pid, [])
    return found


def connections(server: Child, port: int) -> list[int]:
    """ESTABLISHED TCP connections to ``port`` held by each worker (or the one process)."""
    pids = [p for p, role in descendants(server.pid).items() if role == "worker"] or [server.pid]
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                f = line.split()
                if f[3] == "01" and int(f[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{f[9]}]")
    counts = []
    for pid in pids:
        n = 0
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    n += os.readlink(f"/proc/{pid}/fd/{fd}") in inodes
        counts.append(n)
    return sorted(counts, reverse=True)


def machine_busy() -> tuple[float, float]:
    """CPU seconds the whole machine has been busy (/proc/stat: user, nice, system, irq,
    softirq; not idle, iowait, steal), and of those in softirq (loopback TCP, mostly)."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return (sum(f) - f[3] - f[4]) / CLOCK_TICKS, f[6] / CLOCK_TICKS


class Tree(Processes):
    """bench_bridge's Processes, whose CPU snapshots also take rosweb's descendants (agent,
    workers: group ``agent``, ``worker <pid>``), the machine, and the wall clock."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        super().__init__(workdir, env)
        self.walls: dict[str, dict[str, float]] = {}

    def _snapshot(self, tag: str, edge: str) -> None:
        wall, (busy, softirq) = time.time(), machine_busy()
        with self._lock:
            roots = [c.pid for c in self.children if c.group == "rosweb" and c.proc.poll() is None]
        extra = {}
        for root in roots:
            for pid, role in descendants(root).items():
                seconds = cpu_seconds(pid)
                if seconds is not None:
                    extra[pid] = ("agent" if role == "agent" else f"worker {pid}", seconds)
        super()._snapshot(tag, edge)
        self.marks[tag][edge][1].update(extra)
        self.marks[tag][edge][1][-1] = ("machine", busy)
        self.marks[tag][edge][1][-2] = ("softirq", softirq)
        self.walls.setdefault(tag, {})[edge] = wall


def cpu_summary(cpu: dict[str, float]) -> dict[str, Any]:
    workers = {k: v for k, v in cpu.items() if k.startswith("worker ")}
    server = cpu.get("rosweb", 0.0) + cpu.get("agent", 0.0) + sum(workers.values())
    ours = server + sum(cpu.get(k, 0.0) for k in ("client", "peer", "master", "softirq"))
    return {
        "server": server,
        "parent": cpu.get("rosweb", 0.0),
        "agent": cpu.get("agent"),
        "workers": sorted(workers.values(), reverse=True),
        "client": cpu.get("client", 0.0),
        "publisher": cpu.get("peer", 0.0),
        "master": cpu.get("master", 0.0),
        "softirq": cpu.get("softirq", 0.0),
        "machine": cpu.get("machine", 0.0),
        "other": max(0.0, cpu.get("machine", 0.0) - ours),
    }


@contextlib.contextmanager
def rosweb(bench: Bench, workers: int) -> Iterator[tuple[int, Child]]:
    """A fresh ``rosweb run`` (``--workers N`` only when N > 1), healthy and settled."""
    port = free_port()
    script = Path(sys.executable).with_name("rosweb")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "rosweb.cli"]
    command += ["run", "--backend", "ros1://?node=/rosweb_bench", "--port", str(port),
                "--log-level", "warning"]  # fmt: skip
    command += ["--workers", str(workers)] if workers > 1 else []  # plain rosweb run for 1
    child = bench.procs.spawn(f"rosweb-w{workers}", "rosweb", command, {"ROSWEB_ESTOP_FILE": ""})
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2).ok:
                    tree = descendants(child.pid)
                    if list(tree.values()).count("worker") == (workers if workers > 1 else 0):
                        break
            if child.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(bench.procs.failure(child, "did not become healthy"))
            time.sleep(0.2)
        pids = [child.pid, *descendants(child.pid)]
        for _ in range(40):  # every worker done importing: the tree quiet for 0.5 s
            before = sum(cpu_seconds(p) or 0.0 for p in pids)
            time.sleep(0.5)
            if sum(cpu_seconds(p) or 0.0 for p in pids) - before < 0.05:
                break
        yield port, child
    finally:
        bench.procs.stop(child)


def clients(bench: Bench, mode: str, port: int, total: int, *extra: str) -> list[Path]:
    """``total`` connections over ``--client-procs`` processes of this script (``--ws`` or
    ``--view``), all READY; their result files (written when their stdin closes)."""
    k = max(1, min(total, bench.args.client_procs))
    outs = []
    for i in range(k):
        outs.append(bench.out(f"{mode}-{total}"))
        argv = [sys.executable, str(PEER), f"--{mode}", str(port),
                str(total // k + (i < total % k)), *extra, str(outs[-1])]  # fmt: skip
        bench.procs.spawn(f"{mode}-clients", "client", argv)
    for child in [c for c in bench.procs.children if c.group == "client"]:
        bench.procs.wait(child, "READY", timeout=120)
    return outs


def finish_clients(bench: Bench) -> None:
    bench.procs.finish(*[c for c in bench.procs.children if c.group == "client"])
    for child in [c for c in bench.procs.children if c.group == "client"]:
        bench.procs.stop(child)


# -- cases: each returns its figures, a text for the table, rows ----------------------------


def fanout(bench: Bench, workers: int, n: int, rate: str) -> dict[str, Any]:
    procs, args = bench.procs, bench.args
    with rosweb(bench, workers) as (port, server):
        outs = clients(bench, "ws", port, n, str(args.queue_length))
        spread = connections(server, port)
        out_pub = bench.out(f"ws-w{workers}-n{n}-pub")
        pub = procs.peer("pub", topic=FAN_TOPIC, rates=rate, duration=args.seconds,
                         queue_size="none", warm=args.warm, gap=0.5, out=out_pub)  # fmt: skip
        procs.wait_exit(pub, args.seconds + 120)
        finish_clients(bench)
        tag = f"r{rate}"
        phase = load(out_pub)["phases"][tag]
        results = [load(o) for o in outs]
    count = sum(r["tags"].get(tag, {}).get("count", 0) for r in results)
    latency = [x for r in results for x in r["tags"].get(tag, {}).get("latency", [])]
    p50, p99 = percentile(latency, 50) or 0.0, percentile(latency, 99) or 0.0
    # per second of delivering: from the window's start to the last arrival (a backlog
    # delivered after the window counts, but over the time it took)
    assert isinstance(procs, Tree)
    last = max((r["tags"].get(tag, {}).get("last", 0.0) for r in results), default=0.0)
    span = max(phase["duration"], last - procs.walls[tag]["start"])
    delivered, pct = count / span, 100 * count / max(1, phase["sent"] * n)
    status = sum(r.get("status_count", 0) for r in results)
    return {
        "figure": delivered,
        "raw": phase["sent"] * n / phase["duration"],  # offered
        "unit": "msg/s",
        "text": f"{delivered:,.0f} msg/s over {span:.1f} s ({pct:.1f}%), p50 {p50 * 1e3:.1f} / p99 "
        f"{p99 * 1e3:.1f} ms",
        "p99": 1000 * p99,
        "spread": spread,
        "cpu": cpu_summary(procs.cpu(tag)),
        "warning": f"{status} status frames" if status else "",
    }


def mjpeg(bench: Bench, workers: int, viewers: int) -> dict[str, Any]:
    procs, args = bench.procs, bench.args
    assert isinstance(procs, Tree)
    with rosweb(bench, workers) as (port, server):
        out_pub = bench.out(f"mjpeg-w{workers}-v{viewers}-pub")
        pub = procs.peer("imgpub", topic=IMAGE_TOPIC, rate=30, duration=args.seconds,
                         warm=args.warm, gap=0.5, out=out_pub)  # fmt: skip
        procs.wait(pub, "READY")  # advertised: the viewers' streams find the topic
        outs = clients(bench, "view", port, viewers)
        procs.wait_exit(pub, args.seconds + 120)
        spread = connections(server, port)
        finish_clients(bench)
        phase = load(out_pub)["phases"]["m"]
        t0, t1 = procs.walls["m"]["start"], procs.walls["m"]["end"]
        results = [load(o) for o in outs]
    fps = [sum(t0 <= t < t1 for t in times) / (t1 - t0) for r in results for times in r["times"]]
    mean = sum(fps) / max(1, len(fps))
    kb = sum(r["bytes"] / 1000 for r in results) / max(1, sum(r["frames"] for r in results))
    source = phase["sent"] / phase["duration"]
    errors = [e for r in results for e in r["errors"]]
    return {
        "figure": mean,
        "raw": source,
        "unit": "fps",
        "text": f"min {min(fps, default=0):.1f} / mean {mean:.1f} fps (source {source:.1f}, "
        f"{kb:.0f} kB a frame)",
        "spread": spread,
        "cpu": cpu_summary(procs.cpu("m")),
        "warning": f"{len(errors)} viewers failed: {errors[:2]}" if errors else "",
    }


# -- report ---------------------------------------------------------------------------------


def cpu_text(c: dict[str, Any]) -> str:
    workers = "+".join(f"{w:.0f}" for w in c["workers"])
    inside = "one process"
    if c["agent"] is not None:
        inside = f"parent {c['parent']:.0f}, agent {c['agent']:.0f}, workers {workers}"
    return (
        f"{c['server']:.0f}% ({inside}) | {c['client']:.0f}% | {c['publisher']:.0f}% "
        f"| {c['softirq']:.0f}% | {c['machine']:.0f}% ({c['other']:.0f}% other)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per measured case")
    parser.add_argument("--cases", default="100:1000,200:1000,400:1000", help="fan-out N:RATE,...")
    parser.add_argument("--viewers", default="20,300", help="MJPEG viewer counts")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare")
    parser.add_argument("--only", default="ws,mjpeg", help="ws, mjpeg or both")
    parser.add_argument("--client-procs", type=int, default=4, help="client processes per case")
    parser.add_argument("--queue-length", type=int, default=100)
    parser.add_argument("--warm", type=float, default=1.5, help="warm-up seconds per case")
    parser.add_argument("--json", type=Path, help="also write rows here (bench/rows.py)")
    parser.add_argument("--keep", action="store_true", help="keep the logs' directory")
    parser.set_defaults(before=None)
    args = parser.parse_args()
    if not os.path.exists("/usr/bin/python3"):
        raise SystemExit("bench_workers: /usr/bin/python3 with Debian's rospy is required")
    workdir = Path(tempfile.mkdtemp(prefix="rosweb-bench-workers-"))
    bench = Bench(args, workdir)
    env = {k: v for k, v in bench.procs.env.items() if not k.startswith("ROSWEB_")}
    bench.procs = Tree(workdir, env)
    counts = [int(w) for w in args.workers.split(",")]
    cases: list[tuple[str, Any, tuple[Any, ...]]] = []
    for case in args.cases.split(",") if "ws" in args.only else []:
        n, rate = case.split(":")
        cases.append((f"fan-out N={n}, {rate}" + " Hz" * (rate != "max"), fanout, (int(n), rate)))
    for v in args.viewers.split(",") if "mjpeg" in args.only else []:
        cases.append((f"MJPEG {v} viewers", mjpeg, (int(v),)))
    rows: list[dict[str, Any]] = []
    load0 = os.getloadavg()
    lines = ["| case | workers | delivered | conns per worker | server CPU | clients | publisher "
             "| softirq | machine |", "|---|---:|---|---:|---|---:|---:|---:|---:|"]  # fmt: skip
    try:
        bench.start_master()
        for label, measure, params in cases:
            got = {w: measure(bench, w, *params) for w in counts}
            for w, r in got.items():
                if r["warning"]:
                    print(f"WARNING: {label}, {w} worker(s): {r['warning']}", file=sys.stderr)
                spread = "+".join(map(str, r["spread"]))
                lines.append(f"| {label} | {w} | {r['text']} | {spread} | {cpu_text(r['cpu'])} |")
                name = f"workers {label}, {w} worker(s)"
                rows.append(row(f"{name}: {r['unit']}", r["unit"], r["raw"], r["figure"], True))
                if "p99" in r:
                    rows.append(row(f"{name}: p99", "ms", None, r["p99"], False))
                rows.append(row(f"{name}: server CPU", "%", None, r["cpu"]["server"], False))
            if len(counts) == 2:
                one, two = got[counts[0]]["figure"], got[counts[1]]["figure"]
                x = two / one if one else None
                lines.append(f"| {label}: {counts[1]}/{counts[0]} | | {x or 0:.2f}x | | | | | | |")
                rows.append(row(f"workers {label}: {counts[1]}/{counts[0]}", "x", None, x, True))
    except BenchError as err:
        print(f"bench_workers: {err}", file=sys.stderr)
        return 1
    finally:
        bench.procs.cleanup()
    load1 = os.getloadavg()
    print(f"{os.cpu_count()} cores; {args.seconds:g} s per case; load average "
          f"{load0[0]:.1f} before, {load1[0]:.1f} after; CPU in % of one core\n")  # fmt: skip
    print("\n".join(lines))
    dump(args.json, rows)
    if args.keep:
        print(f"logs in {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
