"""What rosweb costs a robot when nobody looks: server CPU and RSS at idle.

Cases, each a fresh ``rosweb run`` measured in the same run:
- ``sim://`` idle, and ``ros1://`` on a master with no other node (RSS; CPU);
- the same with the UI open in a headless Chromium on its default tab (the page's own polling
  and subscriptions: what a dashboard left open on a laptop costs the robot);
- ``ros1://`` on a master with 100 topics published at 10-100 Hz (std_msgs/String, 200 B, one
  rospy process), with ``ROSWEB_CACHE_TOPICS="*"`` (subscribe to every topic at start-up, keep
  its latest message) against ``ROSWEB_CACHE_TOPICS=""`` (subscribe on demand).
Reference: the publisher process's own CPU (what the robot already spends on those topics).

    python bench/bench_idle.py [--seconds 10] [--topics 100] [--no-ui]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import requests

PUBLISHER = r"""
import sys, time, rospy
from std_msgs.msg import String
n = int(sys.argv[1])
rospy.init_node("bench_topics", disable_signals=True)
pubs = [rospy.Publisher(f"/bench/t{i:03d}", String, queue_size=10) for i in range(n)]
rates = [10 + 90 * i / max(1, n - 1) for i in range(n)]  # 10..100 Hz
nexts = [time.monotonic()] * n
msg = String(data="x" * 200)
print("publishing", flush=True)
while True:
    now = time.monotonic()
    for i in range(n):
        if now >= nexts[i]:
            pubs[i].publish(msg)
            nexts[i] += 1.0 / rates[i]
    time.sleep(max(0.0, min(nexts) - time.monotonic()))
"""

TICK = os.sysconf("SC_CLK_TCK")
ROS_PYTHON = "/usr/bin/python3"  # Debian's rospy is built for the system's Python


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_percent(pid: int, seconds: float) -> float:
    start, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return 100 * (cpu_seconds(pid) - start) / (time.monotonic() - t0)


@contextlib.contextmanager
def process(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


CHROMIUM = "/usr/bin/chromium"  # Debian's, as the e2e tests use


@contextlib.contextmanager
def ui_open(url: str) -> Iterator[None]:
    """The UI at ``url`` in a headless Chromium until the block ends."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("#connection[data-state=open]", timeout=30_000)
            yield
        finally:
            browser.close()


def rosweb(backend: str, cache: str, env: dict[str, str], log: Path, port: int = 0
           ) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:  # fmt: skip
    port = port or free_port()
    env = {**env, "ROSWEB_CACHE_TOPICS": cache, "ROSWEB_ESTOP_FILE": ""}
    argv = [str(Path(sys.executable).with_name("rosweb")), "run", "--backend", backend,
            "--port", str(port)]  # fmt: skip
    manager = process(argv, env, log)

    @contextlib.contextmanager
    def started() -> Iterator[subprocess.Popen[bytes]]:
        with manager as proc:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(requests.RequestException):
                    if requests.get(f"http://127.0.0.1:{port}/api/", timeout=1).ok:
                        break
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit(f"rosweb run did not start: see {log}")
                time.sleep(0.2)
            yield proc

    return started()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--topics", type=int, default=100)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--no-ui", action="store_true", help="skip the cases with the UI open")
    args = parser.parse_args()
    rosmaster = shutil.which("rosmaster")
    if rosmaster is None:
        raise SystemExit("rosmaster not found: apt-get install python3-rosmaster")
    work = Path(tempfile.mkdtemp(prefix="rosweb-bench-idle-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROSWEB_")}
    master = free_port()
    env["ROS_MASTER_URI"] = f"http://127.0.0.1:{master}"
    env["ROS_HOSTNAME"] = "127.0.0.1"
    rows: list[tuple[str, str, str, str]] = []
    with process([rosmaster, "--core", "-p", str(master)], env, work / "master.log"):
        time.sleep(2)
        for backend in ("sim://", "ros1://"):
            port = free_port()
            with rosweb(backend, "auto", env, work / f"idle-{backend[:4]}.log", port) as proc:
                time.sleep(args.settle)
                cpu = cpu_percent(proc.pid, args.seconds)
                rows.append((f"idle {backend}", "", f"{cpu:.1f} %", f"{rss_mb(proc.pid):.0f} MB"))
                if args.no_ui or not Path(CHROMIUM).exists():
                    continue
                with ui_open(f"http://127.0.0.1:{port}/"):
                    time.sleep(args.settle)
                    cpu = cpu_percent(proc.pid, args.seconds)
                rows.append((f"{backend} with the UI open (its default tab)", "", f"{cpu:.1f} %",
                             f"{rss_mb(proc.pid):.0f} MB"))  # fmt: skip
        publisher = [ROS_PYTHON, "-c", PUBLISHER, str(args.topics)]
        with process(publisher, env, work / "publisher.log") as pub:
            time.sleep(3)
            reference = cpu_percent(pub.pid, args.seconds)
            for cache in ("*", ""):
                label = f'ros1://, {args.topics} topics at 10-100 Hz, ROSWEB_CACHE_TOPICS="{cache}"'
                with rosweb("ros1://", cache, env, work / f"topics-{cache or 'none'}.log") as proc:
                    time.sleep(args.settle)
                    cpu = cpu_percent(proc.pid, args.seconds)
                    rows.append((label, f"{reference:.1f} %", f"{cpu:.1f} %",
                                 f"{rss_mb(proc.pid):.0f} MB"))  # fmt: skip
    print("| case | publisher CPU (reference) | rosweb CPU | rosweb RSS |")
    print("|---|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
