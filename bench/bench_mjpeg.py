"""MJPEG fan-out: 640x480 rgb8 frames at 30 Hz to 1, 5 and 20 viewers.

Runs rosweb (``rosweb run`` stack: Tornado with the native MJPEG handler) in a server process
fed by a 30 Hz image publisher on the in-process bus, and the viewers in another process
(asyncio, raw HTTP), so the two do not share a GIL. Reports per-viewer fps against the source's
30 fps (the reference measured in the same run), the server's CPU, and encodes per source frame.

    python bench/bench_mjpeg.py [--duration 5] [--viewers 1,5,20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from rows import dump, row

WIDTH, HEIGHT, RATE = 640, 480, 30.0
TOPIC = "/bench/image"


def serve(port: int) -> None:
    """The server process: rosweb on a bare bus, a 30 Hz camera, and a stats endpoint."""
    import numpy as np

    from rosweb.graph.sim import Bus
    from rosweb.messages import from_json
    from rosweb.server import Server
    from rosweb.server.handlers import tornado_handlers
    from rosweb.web import create_app

    graph = Bus(url="sim://?robot=0")  # the bench's own camera publishes on it directly
    app = create_app({"ROSWEB_CACHE_TOPICS": ""}, graph=graph)
    state = app.extensions["rosweb"]
    graph.advertise(TOPIC, "sensor_msgs/Image")
    published = [0]

    @app.get("/bench/stats")
    def stats() -> Any:
        sources = state.robot.camera.sources()
        return {
            "published": published[0],
            "frames_in": sum(s.frames_in for s in sources),
            "encodes": sum(s.encodes for s in sources),
            "sources": len(sources),
        }

    def camera() -> None:
        x = np.arange(WIDTH, dtype=np.uint16)
        y = np.arange(HEIGHT, dtype=np.uint16)[:, None]
        period = 1.0 / RATE
        next_time = time.monotonic()
        while True:
            n = published[0]
            frame = np.empty((HEIGHT, WIDTH, 3), np.uint8)  # a moving gradient with texture
            frame[:, :, 0] = (x + 4 * n) & 0xFF
            frame[:, :, 1] = (y + 2 * n) & 0xFF
            frame[:, :, 2] = ((x ^ y) + n) & 0xFF
            msg = from_json(graph.types, "sensor_msgs/Image", {
                "height": HEIGHT, "width": WIDTH, "encoding": "rgb8", "step": WIDTH * 3,
                "data": frame.tobytes(),
            })  # fmt: skip
            graph.publish(TOPIC, "sensor_msgs/Image", msg)
            published[0] += 1
            next_time += period
            time.sleep(max(0.0, next_time - time.monotonic()))

    threading.Thread(target=camera, daemon=True).start()
    Server(app, "127.0.0.1", port, threads=8, handlers=tornado_handlers(app)).serve_forever()


async def view(port: int, duration: float, counts: list[int], index: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /stream{TOPIC}.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    end = time.monotonic() + duration
    buffer = b""
    while time.monotonic() < end:
        try:
            chunk = await asyncio.wait_for(reader.read(1 << 16), max(0.01, end - time.monotonic()))
        except TimeoutError:
            break
        if not chunk:
            break
        buffer += chunk
        while (start := buffer.find(b"\xff\xd8")) >= 0 and (
            stop := buffer.find(b"\xff\xd9", start)
        ) >= 0:
            counts[index] += 1
            buffer = buffer[stop + 2 :]
    writer.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stats(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/stats", timeout=5) as response:
        result: dict[str, int] = json.load(response)
    return result


def measure(pid: int, port: int, viewers: int, duration: float) -> dict[str, float]:
    counts = [0] * viewers

    async def all_viewers() -> None:
        await asyncio.gather(*(view(port, duration + 1, counts, i) for i in range(viewers)))

    thread = threading.Thread(target=asyncio.run, args=(all_viewers(),))
    thread.start()
    time.sleep(1.0)  # warm up: connections made, encoder running
    before, cpu_before, counts_before = stats(port), cpu_seconds(pid), list(counts)
    time.sleep(duration)
    after, cpu_after, counts_after = stats(port), cpu_seconds(pid), list(counts)
    thread.join()
    source_fps = (after["published"] - before["published"]) / duration
    per_viewer = [(a - b) / duration for a, b in zip(counts_after, counts_before, strict=True)]
    frames = max(1, after["frames_in"] - before["frames_in"])
    return {
        "viewers": viewers,
        "source_fps": source_fps,
        "min_fps": min(per_viewer),
        "mean_fps": sum(per_viewer) / viewers,
        "cpu_percent": 100 * (cpu_after - cpu_before) / duration,
        "encodes_per_frame": (after["encodes"] - before["encodes"]) / frames,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--viewers", default="1,5,20")
    parser.add_argument("--json", help="also write the figures here (for bench/bench_all.py)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                stats(port)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        print(f"640x480 rgb8 at {RATE:.0f} Hz, MJPEG quality 80, {args.duration:.0f} s per case")
        print(
            "viewers  source fps  min fps/viewer  mean fps/viewer  ratio  server CPU  encodes/frame"
        )
        rows = []
        for count in (int(n) for n in args.viewers.split(",")):
            r = measure(server.pid, port, count, args.duration)
            rows += [
                row(f"MJPEG {count} viewers, min fps", "fps", r["source_fps"], r["min_fps"], True),
                row(f"MJPEG {count} viewers, server CPU", "%", None, r["cpu_percent"], False),
            ]
            print(
                f"{r['viewers']:7.0f}  {r['source_fps']:10.1f}  {r['min_fps']:14.1f}  "
                f"{r['mean_fps']:15.1f}  {r['min_fps'] / r['source_fps']:5.2f}  "
                f"{r['cpu_percent']:9.0f}%  {r['encodes_per_frame']:13.2f}"
            )
        dump(args.json, rows)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
