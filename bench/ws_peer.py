"""The WebSocket side of bench_bridge.py: rosbridge v2 clients of rosweb, in one of several modes.

Runs under the project's venv (``websockets``, ``cbor2``). One process, one asyncio loop; the
``subscribe`` mode holds many connections. Like rospy_peer.py it prints ``READY``, ``MARK start
TAG`` / ``MARK end TAG`` around the measured window, writes its figures as JSON to ``--out``,
and stops when its standard input closes (``go`` on stdin ends a warm-up).

    .venv/bin/python bench/ws_peer.py MODE --url ws://127.0.0.1:PORT/ws [options]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import threading
import time
from typing import Any

import cbor2
from peer_common import die_with_parent, payload, say, write_out
from websockets.asyncio.client import ClientConnection, connect

IMAGE_BYTES = 640 * 480 * 3
_STAMP = re.compile(r'"stamp":\{"secs":(\d+),"nsecs":(\d+)\},"frame_id":"(\w*)"')


def publish_frame(topic: str, data: str) -> str:
    return f'{{"op":"publish","topic":"{topic}","msg":{{"data":"{data}"}}}}'


class Stdin:
    """``go`` and end-of-input on stdin, as asyncio events (a thread reads the lines)."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.go = asyncio.Event()
        self.eof = asyncio.Event()

        def read() -> None:
            for line in sys.stdin:
                if line.strip() == "go":
                    loop.call_soon_threadsafe(self.go.set)
            loop.call_soon_threadsafe(self.go.set)
            loop.call_soon_threadsafe(self.eof.set)

        threading.Thread(target=read, daemon=True).start()


async def open_ws(url: str) -> ClientConnection:
    # no keepalive pings: a CPU-starved client must not be dropped for a late pong
    return await connect(
        url, max_size=None, compression=None, ping_interval=None, max_queue=1024, open_timeout=30
    )


class Stats:
    """Per phase tag: count, first and last arrival, latencies (s); per connection counts."""

    def __init__(self, connections: int = 1) -> None:
        self.tags: dict[str, dict[str, Any]] = {}
        self.per_connection: list[dict[str, int]] = [{} for _ in range(connections)]
        self.last_arrival = 0.0
        self.first_seen = asyncio.Event()
        self.status: list[str] = []
        self.bad_frames = 0

    def add(
        self, tag: str, sent: float, now: float, connection: int = 0, echoed: float | None = None
    ) -> None:
        self.last_arrival = now
        self.first_seen.set()
        entry = self.tags.get(tag)
        if entry is None:
            entry = self.tags[tag] = {"count": 0, "first": now, "last": now, "latency": []}
        entry["count"] += 1
        entry["last"] = now
        entry["latency"].append(round(now - sent, 7))
        if echoed is not None:  # a pong: when the echo node got it
            entry.setdefault("out", []).append(round(echoed - sent, 7))
            entry.setdefault("back", []).append(round(now - echoed, 7))
        counts = self.per_connection[connection]
        counts[tag] = counts.get(tag, 0) + 1

    async def drain(self, quiet: float = 1.0, limit: float = 30.0) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and time.time() - self.last_arrival < quiet:
            await asyncio.sleep(0.1)

    def result(self) -> dict[str, Any]:
        return {
            "tags": {k: v for k, v in self.tags.items() if k != "w"},
            "per_connection": [
                {k: v for k, v in c.items() if k != "w"} for c in self.per_connection
            ],
            "status": self.status[:20],
            "status_count": len(self.status),
            "bad_frames": self.bad_frames,
        }


def parse_publish(frame: str | bytes, kind: str, stats: Stats, connection: int) -> None:
    """One incoming frame: a publish of a tagged String or Image, or a status to keep."""
    now = time.time()
    if isinstance(frame, bytes):  # CBOR
        message = cbor2.loads(frame)
        if message.get("op") != "publish":
            stats.status.append(str(message)[:200])
            return
        msg = message["msg"]
        if kind == "image":
            if len(msg["data"]) != IMAGE_BYTES:
                stats.bad_frames += 1
            stamp = msg["header"]["stamp"]
            sent = stamp["secs"] + stamp["nsecs"] * 1e-9
            stats.add(msg["header"]["frame_id"], sent, now, connection)
        else:
            tag, _seq, ts, _ = msg["data"].split("|", 3)
            stats.add(tag, float(ts), now, connection)
        return
    if not frame.startswith('{"op":"publish"'):
        stats.status.append(frame[:200])
        return
    if kind == "image":
        match = _STAMP.search(frame, 0, 600)
        if match is None:
            stats.bad_frames += 1
            return
        sent = int(match.group(1)) + int(match.group(2)) * 1e-9
        stats.add(match.group(3), sent, now, connection)
        return
    start = frame.index('"data":"') + 8
    tag, _seq, ts, _ = frame[start : frame.index('"', start)].split("|", 3)
    stats.add(tag, float(ts), now, connection)


# -- modes ----------------------------------------------------------------------------------


async def mode_publish(args: argparse.Namespace) -> None:
    """Advertise, warm up until ``go``, then publish as fast as the socket takes it."""
    stdin = Stdin()
    ws = await open_ws(args.url)
    status: list[str] = []

    async def read() -> None:
        async for frame in ws:
            status.append(str(frame)[:200])

    reader = asyncio.create_task(read())
    await ws.send(json.dumps({"op": "advertise", "topic": args.topic, "type": "std_msgs/String"}))
    say("READY")
    seq = 0
    while not stdin.go.is_set():
        await ws.send(publish_frame(args.topic, payload("w", seq, args.size)))
        seq += 1
        await asyncio.sleep(0.02)
    say("MARK start rmax")
    start = time.monotonic()
    end = start + args.duration
    sent = 0
    held = False  # a server that reads slower (back-pressure) holds a send past the deadline
    try:
        async with asyncio.timeout(args.duration):
            while time.monotonic() < end:
                for _ in range(50):
                    await ws.send(publish_frame(args.topic, payload("rmax", sent, args.size)))
                    sent += 1
    except TimeoutError:
        held = True
    duration = time.monotonic() - start
    say("MARK end rmax")
    phases = {"rmax": {"sent": sent, "duration": duration}}
    write_out(args.out, {"phases": phases, "status": status[:20], "status_count": len(status)})
    reader.cancel()
    if held:  # a frame half sent: no closing handshake behind a full buffer
        ws.transport.abort()
    else:
        await ws.close()


async def mode_subscribe(args: argparse.Namespace) -> None:
    """``--connections`` clients subscribed to one topic; count and time what arrives."""
    stdin = Stdin()
    stats = Stats(args.connections)
    subscribe: dict[str, Any] = {
        "op": "subscribe",
        "topic": args.topic,
        "type": "sensor_msgs/Image" if args.kind == "image" else "std_msgs/String",
        "queue_length": args.queue_length,
    }
    if args.compression != "none":
        subscribe["compression"] = args.compression
    sockets = [await open_ws(args.url) for _ in range(args.connections)]
    for ws in sockets:
        await ws.send(json.dumps(subscribe))

    async def read(ws: ClientConnection, index: int) -> None:
        async for frame in ws:
            parse_publish(frame, args.kind, stats, index)

    readers = [asyncio.create_task(read(ws, i)) for i, ws in enumerate(sockets)]
    say("READY")
    await stdin.eof.wait()
    await stats.drain()
    write_out(args.out, stats.result())
    for task in readers:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


async def mode_ping(args: argparse.Namespace) -> None:
    """Round trip: publish pings at a fixed rate, receive the echoed pongs on the same socket."""
    stats = Stats()
    ws = await open_ws(args.url)
    await ws.send(json.dumps({"op": "advertise", "topic": args.ping, "type": "std_msgs/String"}))
    await ws.send(
        json.dumps(
            {"op": "subscribe", "topic": args.pong, "type": "std_msgs/String", "queue_length": 100}
        )
    )

    async def read() -> None:
        async for frame in ws:
            now = time.time()
            if not isinstance(frame, str) or not frame.startswith('{"op":"publish"'):
                stats.status.append(str(frame)[:200])
                continue
            data = json.loads(frame)["msg"]["data"]
            tag, _seq, ts, _ = data.split("|", 3)
            stats.add(tag, float(ts), now, 0, float(data.rsplit("|", 1)[1]))

    reader = asyncio.create_task(read())
    say("READY")
    period = 1.0 / args.rate
    seq = 0
    deadline = time.monotonic() + 60
    while not stats.first_seen.is_set() and time.monotonic() < deadline:
        await ws.send(publish_frame(args.ping, payload("w", seq, args.size)))
        seq += 1
        await asyncio.sleep(period)
    warm_until = time.monotonic() + args.warm
    while time.monotonic() < warm_until:
        await ws.send(publish_frame(args.ping, payload("w", seq, args.size)))
        seq += 1
        await asyncio.sleep(period)
    say("MARK start m")
    start = time.monotonic()
    sent = 0
    while True:
        due = start + sent * period
        if due >= start + args.duration:
            break
        now = time.monotonic()
        if due > now:
            await asyncio.sleep(due - now)
        await ws.send(publish_frame(args.ping, payload("m", sent, args.size)))
        sent += 1
    duration = sent * period
    say("MARK end m")
    await asyncio.sleep(1.0)
    result = stats.result()
    result["phases"] = {"m": {"sent": sent, "duration": duration}}
    write_out(args.out, result)
    reader.cancel()
    await ws.close()


async def mode_call(args: argparse.Namespace) -> None:
    """Sequential call_service: send one, wait for its service_response, repeat."""
    ws = await open_ws(args.url)
    failures: list[str] = []

    async def call(i: int) -> None:
        await ws.send(f'{{"op":"call_service","service":"{args.service}","id":"c{i}"}}')
        while True:
            frame = await ws.recv()
            reply = json.loads(frame)
            if reply.get("op") == "service_response" and reply.get("id") == f"c{i}":
                if not reply.get("result") or not reply["values"].get("success"):
                    failures.append(str(reply)[:200])
                return
            failures.append(str(frame)[:200])

    for i in range(50):
        await call(-1 - i)
    say("READY")
    latency = []
    say("MARK start m")
    start = time.monotonic()
    end = start + args.duration
    calls = 0
    while time.monotonic() < end:
        t0 = time.perf_counter()
        await call(calls)
        latency.append(round(time.perf_counter() - t0, 7))
        calls += 1
    duration = time.monotonic() - start
    say("MARK end m")
    write_out(
        args.out,
        {
            "calls": calls,
            "duration": duration,
            "latency": latency,
            "failures": failures[:20],
            "failure_count": len(failures),
        },
    )
    await ws.close()


async def mode_echo_server(args: argparse.Namespace) -> None:
    """Not a client: a Tornado WebSocket server (as rosweb's) at ``--url``'s port that answers
    each call_service frame at once with a successful std_srvs/Trigger response. ``call``
    against it measures a service call's floor here: a WebSocket request/reply between two
    Python processes, without ROS and without rosweb."""
    import tornado.web
    import tornado.websocket

    class Echo(tornado.websocket.WebSocketHandler):
        def open(self, *_args: str) -> None:
            self.set_nodelay(True)

        def on_message(self, message: str | bytes) -> None:
            request = json.loads(message)
            reply = {"op": "service_response", "service": request.get("service"),
                     "id": request.get("id"), "values": {"success": True, "message": ""},
                     "result": True}  # fmt: skip
            self.write_message(json.dumps(reply))

    port = int(args.url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    server = tornado.web.Application([(r"/ws", Echo)]).listen(port, "127.0.0.1")
    stdin = Stdin()
    say("READY")
    await stdin.eof.wait()
    server.stop()


MODES = {
    "publish": mode_publish,
    "subscribe": mode_subscribe,
    "ping": mode_ping,
    "call": mode_call,
    "echo_server": mode_echo_server,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=sorted(MODES))
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", help="write the figures here as JSON")
    parser.add_argument("--topic", default="/bench")
    parser.add_argument("--kind", choices=("string", "image"), default="string")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--compression", choices=("none", "cbor"), default="none")
    parser.add_argument("--queue-length", type=int, default=100)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--warm", type=float, default=1.0)
    parser.add_argument("--ping", default="/bench_ping")
    parser.add_argument("--pong", default="/bench_pong")
    parser.add_argument("--service", default="/bench_trigger")
    args = parser.parse_args()
    die_with_parent()
    asyncio.run(MODES[args.mode](args))


if __name__ == "__main__":
    main()
