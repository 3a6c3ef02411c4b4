"""MJPEG against WebRTC: the same 30 Hz camera to 1 and 5 viewers, at 640x480 and 1280x720.

A server process runs rosweb (the ``rosweb run`` stack) on the bare bus with a 30 Hz publisher of
the counting test pattern (tests/video_helpers.py: a moving gradient and square, the frame
counter drawn in as blocks). The viewers run in this process: MJPEG over raw HTTP, WebRTC as
aiortc peers (``POST /api/webrtc/offer``). Per case: frames and bytes per second per viewer,
the server's CPU, and the latency from publishing a frame to a viewer having it decoded (the
counter read from the picture, matched to the publish time the server recorded).

    python bench/bench_video.py [--duration 4] [--viewers 1,5] [--sizes 640x480,1280x720]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from video_helpers import counter, pattern

RATE = 30.0
TOPIC = "/bench/image"
BITRATES = {640: 1_000_000, 1280: 2_500_000}  # the WebRTC encoder's ceiling per width


def serve(port: int, width: int, height: int) -> None:
    """The server process: rosweb on a bare bus, the pattern at 30 Hz, publish times kept."""
    import numpy as np

    from rosweb.server import Server
    from rosweb.server.handlers import tornado_handlers
    from rosweb.web import create_app

    app = create_app({"ROSWEB_BACKEND": "sim://?robot=0", "ROSWEB_CACHE_TOPICS": ""})
    graph = app.extensions["rosweb"].graph
    graph.advertise(TOPIC, "sensor_msgs/Image")
    cycle = [np.ascontiguousarray(pattern(n, width, height)).tobytes() for n in range(60)]
    rows, block = max(8, int(height * 0.1)), width // 16

    def band(n: int) -> bytes:  # the counter's blocks, as tests/video_helpers.py draws them
        strip = np.zeros((rows, width, 3), np.uint8)
        for bit in range(16):
            if (n >> (15 - bit)) & 1:
                strip[:, bit * block : (bit + 1) * block] = 255
        return strip.tobytes()

    times: list[float] = []

    @app.get("/bench/times")
    def publish_times() -> Any:
        return {"times": times}

    def camera() -> None:
        next_time = time.monotonic()
        while True:
            n = len(times) % 4096
            data = bytearray(cycle[n % len(cycle)])
            strip = band(n)
            data[: len(strip)] = strip  # this frame's counter over the moving picture
            msg = {"header": {"seq": n, "stamp": {"secs": 0, "nsecs": 0}, "frame_id": "bench"},
                   "height": height, "width": width, "encoding": "rgb8", "is_bigendian": 0,
                   "step": width * 3, "data": bytes(data)}  # fmt: skip
            times.append(time.time())
            graph.publish(TOPIC, "sensor_msgs/Image", msg)
            next_time += 1.0 / RATE
            time.sleep(max(0.0, next_time - time.monotonic()))

    threading.Thread(target=camera, daemon=True).start()
    Server(app, "127.0.0.1", port, threads=8, handlers=tornado_handlers(app)).serve_forever()


class Tally:
    def __init__(self) -> None:
        self.frames = 0
        self.bytes = 0
        self.arrivals: list[tuple[float, int]] = []  # (wall time, counter)


async def mjpeg_viewer(port: int, end: float, tally: Tally) -> None:
    import numpy as np
    from PIL import Image

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /stream{TOPIC}.mjpg?quality=80 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    buffer = b""
    while time.monotonic() < end:
        try:
            chunk = await asyncio.wait_for(reader.read(1 << 16), max(0.01, end - time.monotonic()))
        except TimeoutError:
            break
        if not chunk:
            break
        tally.bytes += len(chunk)
        buffer += chunk
        while (start := buffer.find(b"\xff\xd8")) >= 0 and (
            stop := buffer.find(b"\xff\xd9", start)
        ) >= 0:
            picture = Image.open(io.BytesIO(buffer[start : stop + 2]))
            picture.draft("RGB", (picture.width // 4, picture.height // 4))  # DCT scaling: fast
            tally.arrivals.append((time.time(), counter(np.asarray(picture))))
            tally.frames += 1
            buffer = buffer[stop + 2 :]
    writer.close()


async def webrtc_viewer(port: int, end: float, tally: Tally, bitrate: int) -> None:
    import requests
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    tracks: list[Any] = []
    pc.on("track", tracks.append)
    await pc.setLocalDescription(await pc.createOffer())
    body = {"topic": TOPIC, "sdp": pc.localDescription.sdp, "type": "offer", "bitrate": bitrate}
    answer = (await asyncio.to_thread(requests.post, f"http://127.0.0.1:{port}/api/webrtc/offer",
                                      json=body, timeout=20)).json()  # fmt: skip
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
    while not tracks:
        await asyncio.sleep(0.01)
    try:
        while time.monotonic() < end:
            frame = await asyncio.wait_for(tracks[0].recv(), max(0.01, end - time.monotonic()))
            tally.arrivals.append((time.time(), counter(frame.to_ndarray(format="rgb24"))))
            tally.frames += 1
    except TimeoutError:
        pass
    finally:
        await pc.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def encoded_bytes(port: int) -> tuple[int, int]:
    """(payload bytes, frames) the WebRTC encoders made so far (RTP/SRTP headers excluded)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/webrtc", timeout=5) as response:
        encoders = json.load(response)["encoders"]
    return sum(e["bytes"] for e in encoders), sum(e["encoded"] for e in encoders)


def publish_times(port: int) -> list[float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/times", timeout=5) as response:
        times: list[float] = json.load(response)["times"]
    return times


def measure(pid: int, port: int, kind: str, viewers: int, duration: float, width: int) -> dict:
    tallies = [Tally() for _ in range(viewers)]
    warmup = 1.5

    async def run() -> None:
        end = time.monotonic() + warmup + duration
        if kind == "mjpeg":
            jobs = [mjpeg_viewer(port, end, t) for t in tallies]
        else:
            jobs = [webrtc_viewer(port, end, t, BITRATES[width]) for t in tallies]
        await asyncio.gather(*jobs)

    thread = threading.Thread(target=asyncio.run, args=(run(),))
    thread.start()
    time.sleep(warmup)
    counted = [(t.frames, t.bytes, len(t.arrivals)) for t in tallies]
    cpu, (sent, encoded) = cpu_seconds(pid), encoded_bytes(port)
    time.sleep(duration)
    after = encoded_bytes(port)
    cpu, sent, encoded = cpu_seconds(pid) - cpu, after[0] - sent, after[1] - encoded
    thread.join()
    if kind == "webrtc":  # every viewer gets every packet of the shared encoder
        for tally, before in zip(tallies, counted, strict=True):
            tally.bytes = before[1] + sent
    times = publish_times(port)
    latencies = []
    for tally, (_, _, first) in zip(tallies, counted, strict=True):
        for arrived, n in tally.arrivals[first:]:
            # the counter wraps at 4096: the newest publish of that number before arrival
            sent = [t for i, t in enumerate(times) if i % 4096 == n and t <= arrived]
            if sent:
                latencies.append(1000 * (arrived - sent[-1]))
    fps = [(t.frames - c[0]) / duration for t, c in zip(tallies, counted, strict=True)]
    rates = [(t.bytes - c[1]) / duration for t, c in zip(tallies, counted, strict=True)]
    latencies.sort()
    return {
        "fps": statistics.mean(fps), "min_fps": min(fps), "bytes": statistics.mean(rates),
        "cpu": 100 * cpu / duration, "encoded_fps": encoded / duration,
        "p50": latencies[len(latencies) // 2] if latencies else float("nan"),
        "p95": latencies[int(len(latencies) * 0.95)] if latencies else float("nan"),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--viewers", default="1,5")
    parser.add_argument("--sizes", default="640x480,1280x720")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        port, width, height = (int(v) for v in args.serve.replace("x", ":").split(":"))
        serve(port, width, height)
        return
    print(f"30 Hz test pattern; MJPEG quality 80; WebRTC VP8 at {BITRATES} bit/s ceilings; "
          f"{args.duration:.0f} s per case")  # fmt: skip
    print("size       transport viewers  fps/viewer (min)  kB/s/viewer  server CPU  "
          "encoded fps  latency p50 / p95")  # fmt: skip
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.split("x"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([sys.executable, __file__, "--serve", f"{port}:{width}x{height}"])
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    publish_times(port)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            for kind in ("mjpeg", "webrtc"):
                for count in (int(n) for n in args.viewers.split(",")):
                    r = measure(server.pid, port, kind, count, args.duration, width)
                    print(f"{size:10} {kind:9} {count:7}  {r['fps']:6.1f} ({r['min_fps']:4.1f})"
                          f"     {r['bytes'] / 1000:11.0f}  {r['cpu']:9.0f}%  "
                          f"{r['encoded_fps']:11.1f}  "
                          f"{r['p50']:7.0f} / {r['p95']:.0f} ms", flush=True)  # fmt: skip
                    time.sleep(1.0)
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
