"""The rospy side of bench_bridge.py: one ROS 1 node per process, in one of several modes.

Runs under Debian's ``/usr/bin/python3`` (its rospy is built for it), never under the venv.
bench_bridge.py starts these with ROS_MASTER_URI and ROS_IP set; each prints ``READY`` once
registered and, where it measures, ``MARK start TAG`` / ``MARK end TAG`` around the measured
window (the orchestrator samples CPU times there) and writes its figures as JSON to ``--out``.
Long-running modes (sub, echo, trigger_server) stop when their standard input closes, so an
orchestrator that dies takes them with it.

String payloads are ``TAG|SEQ|TIME|padding`` (TIME is the sender's ``time.time()``), so every
receiver computes latency as ``now - TIME`` and files each message under its phase TAG; ``w``
is warm-up and never counted.

    /usr/bin/python3 bench/rospy_peer.py MODE [options]
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import threading
import time
import warnings
from typing import Any

from peer_common import die_with_parent, payload, say, write_out

IMAGE_WIDTH, IMAGE_HEIGHT = 640, 480


def go_requested() -> bool:
    """A line ``go`` (or end of input) on stdin, without waiting."""
    readable, _, _ = select.select([sys.stdin], [], [], 0)
    return bool(readable) and sys.stdin.readline().strip() in ("go", "")


def wait_for_eof() -> None:
    while sys.stdin.readline():
        pass


def init(name: str) -> Any:
    warnings.simplefilter("ignore")  # rospy 1.15's DeprecationWarnings on Python 3.11
    import rospy

    rospy.init_node(name, anonymous=True, disable_signals=True)
    return rospy


def wait_connections(pub: Any, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while pub.get_num_connections() < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {pub.get_num_connections()} of {count} subscribers connected")
        time.sleep(0.01)


class Stats:
    """Per phase tag: count, first and last arrival, latencies (s)."""

    def __init__(self) -> None:
        self.tags: dict[str, dict[str, Any]] = {}
        self.last_arrival = 0.0
        self.first_seen = threading.Event()

    def add(self, tag: str, sent: float, now: float, echoed: float | None = None) -> None:
        """One arrival; ``echoed``: when the echo node got it (round trip: both legs kept)."""
        self.last_arrival = now
        if not self.first_seen.is_set():
            self.first_seen.set()
            say("FIRST")
        entry = self.tags.get(tag)
        if entry is None:
            entry = self.tags[tag] = {"count": 0, "first": now, "last": now, "latency": []}
        entry["count"] += 1
        entry["last"] = now
        entry["latency"].append(round(now - sent, 7))
        if echoed is not None:
            entry.setdefault("out", []).append(round(echoed - sent, 7))
            entry.setdefault("back", []).append(round(now - echoed, 7))

    def drain(self, quiet: float = 1.0, limit: float = 30.0) -> None:
        """Wait until nothing arrived for ``quiet`` s (queues have emptied)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and time.time() - self.last_arrival < quiet:
            time.sleep(0.1)

    def result(self) -> dict[str, Any]:
        return {"tags": {k: v for k, v in self.tags.items() if k != "w"}}


def parse(data: str) -> tuple[str, float]:
    tag, _seq, sent, _ = data.split("|", 3)
    return tag, float(sent)


def parse_pong(data: str) -> tuple[str, float, float]:
    """Tag, send time and echo time of a pong (the echo node appends ``|TIME``)."""
    tag, sent = parse(data)
    return tag, sent, float(data.rsplit("|", 1)[1])


# -- modes ----------------------------------------------------------------------------------


def mode_sub(args: argparse.Namespace) -> None:
    """Count what arrives on a topic (std_msgs/String or sensor_msgs/Image), per phase tag."""
    rospy = init("bench_sub")
    stats = Stats()
    if args.kind == "image":
        from sensor_msgs.msg import Image

        bad = [0]

        def on_image(msg: Any) -> None:
            now = time.time()
            if len(msg.data) != IMAGE_WIDTH * IMAGE_HEIGHT * 3:
                bad[0] += 1
            stats.add(msg.header.frame_id, msg.header.stamp.to_sec(), now)

        rospy.Subscriber(
            args.topic, Image, on_image, queue_size=None, tcp_nodelay=True, buff_size=1 << 24
        )
    else:
        from std_msgs.msg import String

        def on_string(msg: Any) -> None:
            now = time.time()
            tag, sent = parse(msg.data)
            stats.add(tag, sent, now)

        rospy.Subscriber(args.topic, String, on_string, queue_size=None, tcp_nodelay=True)
    say("READY")
    wait_for_eof()
    stats.drain()
    result = stats.result()
    if args.kind == "image":
        result["bad_frames"] = bad[0]
    write_out(args.out, result)


def mode_pub(args: argparse.Namespace) -> None:
    """Publish std_msgs/String: warm-up, then one phase per rate (``max``: as fast as it can)."""
    rospy = init("bench_pub")
    from std_msgs.msg import String

    queue = None if args.queue_size == "none" else int(args.queue_size)
    pub = rospy.Publisher(args.topic, String, queue_size=queue)
    say("READY")
    wait_connections(pub, args.connections)
    warm_until = time.monotonic() + args.warm
    seq = 0
    while time.monotonic() < warm_until or (args.wait_go and not go_requested()):
        pub.publish(String(payload("w", seq, args.size)))
        seq += 1
        time.sleep(0.02)
    phases = {}
    for rate_text in args.rates.split(","):
        tag = f"r{rate_text}"
        rate = 0.0 if rate_text == "max" else float(rate_text)
        say(f"MARK start {tag}")
        start = time.monotonic()
        end = start + args.duration
        sent = 0
        period = 1.0 / rate if rate else 0.0
        if rate:
            while True:
                due = start + sent * period
                now = time.monotonic()
                if due >= end:
                    break
                if due > now:
                    time.sleep(due - now)
                pub.publish(String(payload(tag, sent, args.size)))
                sent += 1
        else:
            while time.monotonic() < end:
                for _ in range(50):
                    pub.publish(String(payload(tag, sent, args.size)))
                    sent += 1
        # a fixed-rate phase spans sent periods (the last one is due a period before its end)
        duration = sent * period if rate else time.monotonic() - start
        say(f"MARK end {tag}")
        phases[tag] = {"sent": sent, "duration": duration}
        time.sleep(args.gap)  # let queues drain before the next phase
    write_out(args.out, {"phases": phases})


def mode_imgpub(args: argparse.Namespace) -> None:
    """Publish sensor_msgs/Image 640x480 rgb8 at a fixed rate (frame_id is the phase tag)."""
    rospy = init("bench_imgpub")
    from sensor_msgs.msg import Image

    pub = rospy.Publisher(args.topic, Image, queue_size=10)
    data = bytes(range(256)) * (IMAGE_WIDTH * IMAGE_HEIGHT * 3 // 256)
    say("READY")
    wait_connections(pub, args.connections)

    def frame(tag: str, seq: int) -> Any:
        msg = Image(
            height=IMAGE_HEIGHT, width=IMAGE_WIDTH, encoding="rgb8", step=IMAGE_WIDTH * 3, data=data
        )
        msg.header.seq = seq
        msg.header.frame_id = tag
        msg.header.stamp = rospy.Time.from_sec(time.time())
        return msg

    period = 1.0 / args.rate
    start = time.monotonic()
    seq = 0
    while time.monotonic() < start + args.warm:
        pub.publish(frame("w", seq))
        seq += 1
        time.sleep(period)
    say("MARK start m")
    start = time.monotonic()
    end = start + args.duration
    sent = 0
    while True:
        due = start + sent * period
        if due >= end:
            break
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        pub.publish(frame("m", seq))
        seq += 1
        sent += 1
    duration = sent * period
    say("MARK end m")
    time.sleep(args.gap)
    write_out(args.out, {"phases": {"m": {"sent": sent, "duration": duration}}})


def mode_echo(args: argparse.Namespace) -> None:
    """Republish every std_msgs/String of /bench_ping on /bench_pong, with ``|TIME`` of its
    arrival here appended (so the round trip splits into its two legs)."""
    rospy = init("bench_echo")
    from std_msgs.msg import String

    pub = rospy.Publisher(args.pong, String, queue_size=1000)

    def on_ping(msg: Any) -> None:
        pub.publish(String(f"{msg.data}|{time.time():.6f}"))

    rospy.Subscriber(args.ping, String, on_ping, queue_size=None, tcp_nodelay=True)
    say("READY")
    wait_for_eof()


def mode_ping(args: argparse.Namespace) -> None:
    """Raw round trip: publish pings at a fixed rate, time the echoed pongs."""
    rospy = init("bench_ping")
    from std_msgs.msg import String

    stats = Stats()

    def on_pong(msg: Any) -> None:
        now = time.time()
        tag, sent, echoed = parse_pong(msg.data)
        stats.add(tag, sent, now, echoed)

    rospy.Subscriber(args.pong, String, on_pong, queue_size=None, tcp_nodelay=True)
    pub = rospy.Publisher(args.ping, String, queue_size=1000)
    say("READY")
    period = 1.0 / args.rate
    seq = 0
    deadline = time.monotonic() + 60
    while not stats.first_seen.is_set() and time.monotonic() < deadline:
        pub.publish(String(payload("w", seq, args.size)))
        seq += 1
        time.sleep(period)
    warm_until = time.monotonic() + args.warm
    while time.monotonic() < warm_until:
        pub.publish(String(payload("w", seq, args.size)))
        seq += 1
        time.sleep(period)
    say("MARK start m")
    start = time.monotonic()
    sent = 0
    while True:
        due = start + sent * period
        if due >= start + args.duration:
            break
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        pub.publish(String(payload("m", sent, args.size)))
        sent += 1
    duration = sent * period
    say("MARK end m")
    time.sleep(1.0)
    result = stats.result()
    result["phases"] = {"m": {"sent": sent, "duration": duration}}
    write_out(args.out, result)


def mode_trigger_server(args: argparse.Namespace) -> None:
    """Provide std_srvs/Trigger at --service until stdin closes."""
    rospy = init("bench_trigger_server")
    from std_srvs.srv import Trigger, TriggerResponse

    rospy.Service(args.service, Trigger, lambda _req: TriggerResponse(True, "ok"))
    say("READY")
    wait_for_eof()


def mode_trigger_client(args: argparse.Namespace) -> None:
    """Raw sequential calls through one persistent ServiceProxy."""
    rospy = init("bench_trigger_client")
    from std_srvs.srv import Trigger

    rospy.wait_for_service(args.service, timeout=30)
    proxy = rospy.ServiceProxy(args.service, Trigger, persistent=True)
    say("READY")
    for _ in range(50):
        proxy()
    latency = []
    say("MARK start m")
    start = time.monotonic()
    end = start + args.duration
    calls = 0
    while time.monotonic() < end:
        t0 = time.perf_counter()
        response = proxy()
        latency.append(round(time.perf_counter() - t0, 7))
        if not response.success:
            raise SystemExit("Trigger answered success=False")
        calls += 1
    duration = time.monotonic() - start
    say("MARK end m")
    proxy.close()
    write_out(args.out, {"calls": calls, "duration": duration, "latency": latency})


MODES = {
    "sub": mode_sub,
    "pub": mode_pub,
    "imgpub": mode_imgpub,
    "echo": mode_echo,
    "ping": mode_ping,
    "trigger_server": mode_trigger_server,
    "trigger_client": mode_trigger_client,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=sorted(MODES))
    parser.add_argument("--topic", default="/bench")
    parser.add_argument("--kind", choices=("string", "image"), default="string")
    parser.add_argument("--out", help="write the figures here as JSON")
    parser.add_argument("--rates", default="max", help="comma-separated Hz, or max")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--size", type=int, default=200, help="bytes of std_msgs/String data")
    parser.add_argument("--connections", type=int, default=1, help="subscribers to wait for")
    parser.add_argument("--queue-size", default="1000", help="publisher queue_size, or none")
    parser.add_argument("--warm", type=float, default=1.0, help="warm-up seconds")
    parser.add_argument("--wait-go", action="store_true", help="warm up until 'go' on stdin")
    parser.add_argument("--gap", type=float, default=1.0, help="idle seconds after a phase")
    parser.add_argument("--ping", default="/bench_ping")
    parser.add_argument("--pong", default="/bench_pong")
    parser.add_argument("--service", default="/bench_trigger")
    args = parser.parse_args()
    die_with_parent()
    MODES[args.mode](args)
    sys.stdout.flush()
    import rospy

    rospy.signal_shutdown("bench done")  # unregisters from the master
    os._exit(0)  # rospy's remaining threads could otherwise hold the exit


if __name__ == "__main__":
    main()
