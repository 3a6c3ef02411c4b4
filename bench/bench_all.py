"""``make bench``: every benchmark, short, in one run, as ONE table: raw limit, before, after.

"before" is rosweb at another git revision (``BENCH_BEFORE``, default: the merge-base of HEAD
with ``main``), checked out with ``git worktree add`` into a temporary directory and run from
there with ``PYTHONPATH=<checkout>/src`` (rosweb is pure Python with a src layout; every server a
benchmark spawns inherits the variable). "after" is this tree. The benchmark scripts are this
tree's in both runs, so they use only APIs both revisions have. The raw limit is the reference
each benchmark measures itself in the same run (raw rospy, the in-process bus, raw zenoh, the
source's rate; for benchmarks run twice, the reference of the "after" run).

    .venv/bin/python bench/bench_all.py [--before REV | --before none] [--only bridge,agent]
        [--seconds 2] [--json FILE]

The video benchmark (bench_video.py) is not part of it: ``make bench-video``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FALLBACK_BEFORE = "67abc6e"  # main when issue 15 was taken up

#: the rosbridge cases of the table: (scenario, case, figure, label, unit, higher is better,
#: whether raw rospy's figure is a limit for it: not for rosweb's own CPU)
BRIDGE: list[tuple[str, str, str, str, str, bool, bool]] = [
    ("inbound", "String 200 B, max rate", "received_rate", "received", "msg/s", True, True),
    ("inbound", "String 200 B, max rate", "loss_pct", "lost", "%", False, True),
    ("inbound", "String 200 B, max rate", "cpu", "server CPU", "%", False, False),
    ("inbound", "String 200 B, max rate", "p50_ms", "latency p50", "ms", False, True),
    (
        "inbound",
        "String 200 B, max rate, no rate limit",
        "received_rate",
        "received",
        "msg/s",
        True,
        True,
    ),
    ("inbound", "String 200 B, max rate, no rate limit", "loss_pct", "lost", "%", False, True),
    ("inbound", "String 200 B, max rate, no rate limit", "cpu", "server CPU", "%", False, False),
    (
        "refused",
        "String 200 B at max rate, limit 10/s",
        "us_per_frame",
        "server CPU per frame",
        "us",
        False,
        False,
    ),
    (
        "refused",
        "String 200 B at max rate, limit 10/s",
        "sent_rate",
        "frames taken",
        "msg/s",
        True,
        False,
    ),
    ("fan-out", "N=1, 1000 Hz", "cpu", "server CPU", "%", False, False),
    ("fan-out", "N=1, 1000 Hz", "p50_ms", "p50", "ms", False, True),
    ("fan-out", "N=1, 5000 Hz", "delivered_pct", "delivered", "%", True, True),
    ("fan-out", "N=1, 5000 Hz", "cpu", "server CPU", "%", False, False),
    ("fan-out", "N=10, max", "delivered_rate", "delivered (total)", "msg/s", True, True),
    ("fan-out", "N=10, max", "p99_ms", "p99", "ms", False, True),
    ("fan-out", "N=50, 1000 Hz", "delivered_pct", "delivered", "%", True, True),
    ("fan-out", "N=50, 1000 Hz", "p99_ms", "p99", "ms", False, True),
    ("fan-out", "N=50, 1000 Hz", "cpu", "server CPU", "%", False, False),
    ("round trip", "String 200 B at 100 Hz", "p50_ms", "p50", "ms", False, True),
    ("round trip", "String 200 B at 100 Hz", "p99_ms", "p99", "ms", False, True),
    ("service", "std_srvs/Trigger, sequential", "calls_rate", "", "calls/s", True, True),
    (
        "service",
        "std_srvs/Trigger, sequential, against a WebSocket echo",
        "calls_rate",
        "",
        "calls/s",
        True,
        True,
    ),
    ("images", "640x480 rgb8 at 30 Hz, CBOR", "cpu", "server CPU", "%", False, False),
    ("images", "640x480 rgb8 at 30 Hz, CBOR", "p50_ms", "p50", "ms", False, True),
    ("images", "640x480 rgb8 at 30 Hz, JSON", "cpu", "server CPU", "%", False, False),
    ("images", "640x480 rgb8 at 30 Hz, JSON", "p50_ms", "p50", "ms", False, True),
]
FANOUT_CASES = "1:1000+5000,10:max,50:1000"


def git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


@contextlib.contextmanager
def checkout(rev: str) -> Iterator[Path]:
    """``rev`` checked out (detached) in a temporary worktree; removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="rosweb-before-"))
    tree = tmp / "tree"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--quiet", "--detach", str(tree), rev],
        check=True,
    )
    try:
        yield tree
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)])
        with contextlib.suppress(OSError):
            tmp.rmdir()


def run(script: str, argv: list[str], src: Path, out: Path) -> list[dict[str, Any]]:
    """One benchmark script with ``--json out`` and the rosweb of ``src``; its rows, or []."""
    env = os.environ | {"PYTHONPATH": str(src)}
    label = "after" if src == ROOT / "src" else "before"
    print(f"bench_all: {script} ({label}) ...", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    command = [sys.executable, str(HERE / script), *argv, "--json", str(out)]
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True)
    took = time.monotonic() - t0
    if done.returncode != 0 or not out.exists():
        print(f"bench_all: {script} ({label}) failed ({done.returncode})", file=sys.stderr)
        print(done.stdout[-3000:], file=sys.stderr)
        return []
    print(f"bench_all: {script} ({label}) done in {took:.0f} s", file=sys.stderr, flush=True)
    rows: list[dict[str, Any]] = json.loads(out.read_text())
    return rows


def bridge_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """bench_bridge.py's rows (raw, before, rosweb variants) as rows of the table."""
    find = {(r["scenario"], r["case"], r["variant"]): r for r in rows}

    def figure(scenario: str, case: str, variant: str, key: str) -> float | None:
        r = find.get((scenario, case, variant))
        if r is None:
            return None
        value = r.get("cpu", {}).get("rosweb") if key == "cpu" else r.get(key)
        return float(value) if isinstance(value, int | float) else None

    out = []
    for scenario, case, key, label, unit, higher, limit in BRIDGE:
        out.append(
            {
                "case": f"{scenario} {case}" + (f": {label}" if label else ""),
                "unit": unit,
                "raw": figure(scenario, case, "raw", key) if limit else None,
                "before": figure(scenario, case, "before", key),
                "after": figure(scenario, case, "rosweb", key),
                "higher": higher,
            }
        )
    return out


def merge(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of a benchmark run twice: the raw limit and "after" of the second run."""
    old = {r["case"]: r for r in before}
    new = {r["case"]: r for r in after}
    out = []
    for case in dict.fromkeys([*new, *old]):
        last = new.get(case) or old[case]
        out.append(
            {
                "case": case,
                "unit": last["unit"],
                "raw": last["raw"],
                "before": old.get(case, {}).get("rosweb"),
                "after": new.get(case, {}).get("rosweb"),
                "higher": last["higher"],
            }
        )
    return out


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio(a: float | None, b: float | None) -> str:
    return f"{b / a:.2f}" if a and b is not None else "-"


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| case | unit | raw limit | before | after | after/raw | after/before |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        raw, before, after = r["raw"], r["before"], r["after"]
        lines.append(
            f"| {r['case']} | {r['unit']} | {fmt(raw)} | {fmt(before)} | {fmt(after)} "
            f"| {ratio(raw, after)} | {ratio(before, after)} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--before",
        default=os.environ.get("BENCH_BEFORE") or None,
        help="git revision measured as 'before' (BENCH_BEFORE; default the merge-base with "
        "main); 'none': after only",
    )
    parser.add_argument(
        "--only", help="comma-separated: bridge,agent,hub,mjpeg,workers,properties,ros2"
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per measured case")
    parser.add_argument("--json", type=Path, help="also write the table's rows here")
    args = parser.parse_args()
    rev = args.before or git("merge-base", "HEAD", "main") or FALLBACK_BEFORE
    s = f"{args.seconds:g}"
    benches: dict[str, tuple[str, list[str]]] = {
        "bridge": ("bench_bridge.py", ["--duration", s, "--warm", "1", "--gap", "0.5",
                                       "--fanout-cases", FANOUT_CASES]),
        "agent": ("bench_agent.py", ["--duration", s, "--workers", "1"]),
        "hub": ("bench_hub.py", []),
        "mjpeg": ("bench_mjpeg.py", ["--duration", s, "--viewers", "20"]),
        "workers": ("bench_workers.py", ["--seconds", s, "--cases", "100:1000,200:1000,400:1000",
                                         "--viewers", "20"]),
        "properties": ("bench_properties.py", ["--seconds", f"{min(args.seconds, 0.5):g}"]),
        "ros2": ("bench_ros2.py", []),
    }  # fmt: skip
    only = args.only.split(",") if args.only else list(benches)
    started = time.monotonic()
    after_commit = git("rev-parse", "--short", "HEAD")
    dirty = " with local changes" if git("status", "--porcelain", "--", "src") else ""
    rows: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        before_src = None
        if rev != "none":
            before_src = stack.enter_context(checkout(rev)) / "src"
            rev = git("rev-parse", "--short", rev)
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rosweb-bench-all-")))
        for name in only:
            script, argv = benches[name]
            if name == "bridge":  # runs the raw reference once, before and after against it
                extra = ["--before", str(before_src)] if before_src else []
                rows += bridge_rows(run(script, argv + extra, ROOT / "src", tmp / "bridge.json"))
                continue
            old = run(script, argv, before_src, tmp / f"{name}-before.json") if before_src else []
            rows += merge(old, run(script, argv, ROOT / "src", tmp / f"{name}-after.json"))
    print(
        f"rosweb before = {rev}, after = {after_commit}{dirty}; {os.cpu_count()} cores; "
        f"{s} s per case; {time.monotonic() - started:.0f} s in all\n"
    )
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
