"""MJPEG against WebRTC: the same 30 Hz camera to 1 and 5 viewers, at 640x480 and 1280x720.

A server process runs rosweb (the ``rosweb run`` stack) on the bare bus with a 30 Hz publisher of
the counting test pattern (tests/video_helpers.py: a moving gradient and square, the frame
counter drawn in as blocks). The viewers run in this process: MJPEG over raw HTTP, WebRTC as
aiortc peers (``POST /api/webrtc/offer``). Per case, over the same window: frames per second
each viewer decoded, the bytes each received (MJPEG: what the socket delivered; WebRTC: the
bytes its ICE transport received, SRTP, RTP and RTCP included), the server's CPU, the viewers'
CPU (this process: decoding 5 streams costs the same 2 cores), the encodes per second
(WebRTC: all viewers share one encoder, so this stays at the source's rate), the encoder's CPU
per frame, the latency from publishing a frame to a viewer having it decoded (the counter read
from the picture, matched to the publish time the server recorded), and the quality (PSNR of
the first viewer's pictures against the source's, every 15th frame).

    python bench/bench_video.py [--duration 4] [--viewers 1,5] [--sizes 640x480,1280x720]
                                [--bitrates 640=600000,1280=1500000] [--codec vp8]
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
from functools import cache
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from video_helpers import BAND, BITS, counter, pattern

RATE = 30.0
TOPIC = "/bench/image"
CYCLE = 60  # pictures of the pattern the camera cycles through (their counters overwritten)
WRAP = 4096  # the counter the camera draws wraps here
#: the WebRTC encoder's ceiling per width: the lowest where its pictures are no worse than
#: MJPEG q80's (PSNR, measured below in the same run)
BITRATES = {640: 600_000, 1280: 1_500_000}
SAMPLE = 15  # the first viewer's every 15th picture is compared with the source (PSNR)
GRACE = 6.0  # seconds for the encoders of one case to stop before the next (rosweb's GRACE is 5)


@cache
def base(k: int, width: int, height: int) -> Any:
    """Picture ``k`` of the camera's cycle, its counter band blank."""
    import numpy as np

    picture = np.array(pattern(k, width, height))
    picture[: max(8, int(height * BAND))] = 0
    return picture


def band(n: int, width: int, height: int) -> Any:
    """The counter band of frame ``n``, as tests/video_helpers.py draws it."""
    import numpy as np

    strip = np.zeros((max(8, int(height * BAND)), width, 3), np.uint8)
    block = width // BITS
    for bit in range(BITS):
        if (n >> (BITS - 1 - bit)) & 1:
            strip[:, bit * block : (bit + 1) * block] = 255
    return strip


def source(n: int, width: int, height: int) -> Any:
    """The picture the camera publishes as frame ``n``: its cycle's picture, counter ``n``."""
    import numpy as np

    picture = base(n % CYCLE, width, height)
    strip = band(n, width, height)
    return np.concatenate([strip, picture[len(strip) :]])


def psnr(picture: Any, n: int) -> float:
    import numpy as np

    reference = source(n % WRAP, picture.shape[1], picture.shape[0])
    error = np.mean((picture.astype(np.float32) - reference.astype(np.float32)) ** 2)
    return float(10 * np.log10(255.0**2 / max(error, 1e-6)))


def serve(port: int, width: int, height: int) -> None:
    """The server process: rosweb on a bare bus, the pattern at 30 Hz, publish times kept."""
    from rosweb.graph import connect
    from rosweb.server import Server
    from rosweb.server.handlers import tornado_handlers
    from rosweb.web import create_app

    graph = connect("sim://?robot=0")  # the bare bus, published to directly (no guard)
    app = create_app({"ROSWEB_CACHE_TOPICS": ""}, graph=graph)
    state = app.extensions["rosweb"]
    graph.advertise(TOPIC, "sensor_msgs/Image")
    cycle = [base(k, width, height).tobytes() for k in range(CYCLE)]
    times: list[float] = []

    @app.get("/bench/times")
    def publish_times() -> Any:
        return {"times": times, "jpeg_sources": len(state.robot.camera.sources())}

    def camera() -> None:
        next_time = time.monotonic()
        while True:
            n = len(times) % WRAP
            strip = band(n, width, height).tobytes()
            data = strip + cycle[n % CYCLE][len(strip) :]  # this frame's counter, one copy
            msg = {"header": {"seq": n, "stamp": {"secs": 0, "nsecs": 0}, "frame_id": "bench"},
                   "height": height, "width": width, "encoding": "rgb8", "is_bigendian": 0,
                   "step": width * 3, "data": data}  # fmt: skip
            times.append(time.time())
            graph.publish(TOPIC, "sensor_msgs/Image", msg)
            next_time += 1.0 / RATE
            time.sleep(max(0.0, next_time - time.monotonic()))

    threading.Thread(target=camera, daemon=True).start()
    Server(app, "127.0.0.1", port, threads=8, handlers=tornado_handlers(app)).serve_forever()


class Tally:
    def __init__(self, probe: bool) -> None:
        self.probe = probe  # this viewer's pictures are compared with the source
        self.arrivals: list[tuple[float, int]] = []  # (wall time, counter)
        self.received: list[tuple[float, int]] = []  # (wall time, bytes so far)
        self.quality: list[tuple[float, float]] = []  # (wall time, PSNR)


async def mjpeg_viewer(port: int, end: float, tally: Tally) -> None:
    import numpy as np
    from PIL import Image

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /stream{TOPIC}.mjpg?quality=80 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    buffer, total = b"", 0
    while time.monotonic() < end:
        try:
            chunk = await asyncio.wait_for(reader.read(1 << 16), max(0.01, end - time.monotonic()))
        except TimeoutError:
            break
        if not chunk:
            break
        total += len(chunk)
        tally.received.append((time.time(), total))
        buffer += chunk
        while (start := buffer.find(b"\xff\xd8")) >= 0 and (
            stop := buffer.find(b"\xff\xd9", start)
        ) >= 0:
            picture = Image.open(io.BytesIO(buffer[start : stop + 2]))
            sample = tally.probe and len(tally.arrivals) % SAMPLE == 0
            if not sample:
                picture.draft("RGB", (picture.width // 4, picture.height // 4))  # DCT scaling
            pixels = np.asarray(picture.convert("RGB"))
            n, now = counter(pixels), time.time()
            tally.arrivals.append((now, n))
            if sample:
                tally.quality.append((now, psnr(pixels, n)))
            buffer = buffer[stop + 2 :]
    writer.close()


def luma(frame: Any) -> Any:
    """The frame's Y plane as a (height, width) view: enough to read the counter, no copy."""
    import numpy as np

    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
    return rows[: frame.height, : frame.width]


async def webrtc_viewer(port: int, end: float, tally: Tally, bitrate: int, codec: str) -> None:
    import requests
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.stats import RTCTransportStats

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("video", direction="recvonly")
    tracks: list[Any] = []
    pc.on("track", tracks.append)
    await pc.setLocalDescription(await pc.createOffer())
    body = {"topic": TOPIC, "sdp": pc.localDescription.sdp, "type": "offer",
            "bitrate": bitrate, "codec": codec}  # fmt: skip
    answer = (await asyncio.to_thread(requests.post, f"http://127.0.0.1:{port}/api/webrtc/offer",
                                      json=body, timeout=20)).json()  # fmt: skip
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

    async def count_bytes() -> None:
        while time.monotonic() < end:
            report = await pc.getStats()
            found = [s.bytesReceived for s in report.values() if isinstance(s, RTCTransportStats)]
            tally.received.append((time.time(), sum(found)))
            await asyncio.sleep(0.25)

    counting = asyncio.ensure_future(count_bytes())
    while not tracks:
        await asyncio.sleep(0.01)
    try:
        while time.monotonic() < end:
            frame = await asyncio.wait_for(tracks[0].recv(), max(0.01, end - time.monotonic()))
            n, now = counter(luma(frame)), time.time()
            tally.arrivals.append((now, n))
            if tally.probe and len(tally.arrivals) % SAMPLE == 0:
                tally.quality.append((now, psnr(frame.to_ndarray(format="rgb24"), n)))
    except TimeoutError:
        pass
    finally:
        counting.cancel()
        await pc.close()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def get(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        return json.load(response)


def encoders(port: int) -> tuple[int, float, int]:
    """(frames encoded, CPU seconds of the encoders, encoders) of WebRTC so far."""
    found = get(port, "/api/webrtc")["encoders"]
    return sum(e["encoded"] for e in found), sum(e.get("cpu", 0.0) for e in found), len(found)


def idle(port: int) -> None:
    """Until no MJPEG source and no WebRTC encoder of an earlier case runs any more."""
    deadline = time.monotonic() + 3 * GRACE
    while time.monotonic() < deadline:
        if not get(port, "/bench/times")["jpeg_sources"] and not encoders(port)[2]:
            return
        time.sleep(0.5)


def within(series: list[tuple[float, Any]], start: float, stop: float) -> list[Any]:
    return [value for at, value in series if start <= at < stop]


def rate(series: list[tuple[float, int]], start: float, stop: float) -> float:
    """Bytes per second of a (time, running total) series over [start, stop)."""
    inside = [(at, total) for at, total in series if start <= at < stop]
    if len(inside) < 2:
        return float("nan")
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


def latencies(arrivals: list[tuple[float, int]], times: list[float]) -> list[float]:
    """Publish to decoded, in ms: each counter matched to its newest publish before arrival."""
    out = []
    for arrived, n in arrivals:
        sent = [times[i] for i in range(n, len(times), WRAP) if times[i] <= arrived]
        if sent:
            out.append(1000 * (arrived - sent[-1]))
    return out


def measure(pid: int, port: int, kind: str, viewers: int, duration: float, width: int,
            codec: str, bitrate: int) -> dict[str, float]:  # fmt: skip
    tallies = [Tally(probe=i == 0) for i in range(viewers)]
    warmup = 2.0

    async def run() -> None:
        end = time.monotonic() + warmup + duration + 0.5
        if kind == "mjpeg":
            jobs = [mjpeg_viewer(port, end, t) for t in tallies]
        else:
            jobs = [webrtc_viewer(port, end, t, bitrate, codec) for t in tallies]
        await asyncio.gather(*jobs)

    thread = threading.Thread(target=asyncio.run, args=(run(),))
    thread.start()
    time.sleep(warmup)
    start, server_cpu, own_cpu = time.time(), cpu_seconds(pid), time.process_time()
    encoded, encoder_cpu, _ = encoders(port)
    time.sleep(duration)
    stop, server_cpu = time.time(), cpu_seconds(pid) - server_cpu
    own_cpu = time.process_time() - own_cpu
    after = encoders(port)
    encoded, encoder_cpu = after[0] - encoded, after[1] - encoder_cpu
    thread.join()
    times = get(port, "/bench/times")["times"]
    fps = [len(within(t.arrivals, start, stop)) / duration for t in tallies]
    delays = sorted(
        d for t in tallies for d in latencies([(a, n) for a, n in t.arrivals if start <= a < stop],
                                              times)
    )  # fmt: skip
    quality = within(tallies[0].quality, start, stop)
    return {
        "fps": statistics.mean(fps), "min_fps": min(fps),
        "bytes": statistics.mean(rate(t.received, start, stop) for t in tallies),
        "server_cpu": 100 * server_cpu / duration, "viewers_cpu": 100 * own_cpu / duration,
        "encoded_fps": encoded / duration,
        "encode_ms": 1000 * encoder_cpu / encoded if encoded else float("nan"),
        "p50": delays[len(delays) // 2] if delays else float("nan"),
        "p99": delays[min(len(delays) - 1, int(len(delays) * 0.99))] if delays else float("nan"),
        "psnr": statistics.mean(quality) if quality else float("nan"),
    }  # fmt: skip


def wait_for_server(port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            get(port, "/bench/times")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--viewers", default="1,5")
    parser.add_argument("--sizes", default="640x480,1280x720")
    parser.add_argument("--bitrates", default=",".join(f"{w}={b}" for w, b in BITRATES.items()),
                        help="WebRTC ceilings: WIDTH=BITS_PER_SECOND,...")  # fmt: skip
    parser.add_argument("--codec", default="vp8", choices=["vp8", "h264"])
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        port, width, height = (int(v) for v in args.serve.replace("x", ":").split(":"))
        serve(port, width, height)
        return
    bitrates = {int(w): int(b) for w, b in (p.split("=") for p in args.bitrates.split(","))}
    print(f"30 Hz test pattern; MJPEG quality 80; WebRTC {args.codec} ceilings {bitrates} bit/s; "
          f"{args.duration:.0f} s per case; {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at the start")  # fmt: skip
    print(
        "size      transport                viewers  fps/viewer (min)  kB/s/viewer  "
        "server CPU  viewers' CPU  encodes/s  encode ms  latency p50 / p99   PSNR"
    )
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.split("x"))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([sys.executable, __file__, "--serve", f"{port}:{width}x{height}"])
        try:
            wait_for_server(port)
            for kind in ("mjpeg", "webrtc"):
                label = "MJPEG q80" if kind == "mjpeg" else (
                    f"WebRTC {args.codec.upper()} {bitrates[width] / 1e6:g} Mbit/s")  # fmt: skip
                for count in (int(n) for n in args.viewers.split(",")):
                    idle(port)
                    r = measure(server.pid, port, kind, count, args.duration, width, args.codec,
                                bitrates[width])  # fmt: skip
                    encodes = f"{r['encoded_fps']:9.1f}" if kind == "webrtc" else " " * 9
                    encode_ms = f"{r['encode_ms']:9.1f}" if kind == "webrtc" else " " * 9
                    print(f"{size:9} {label:24} {count:7}  {r['fps']:6.1f} ({r['min_fps']:4.1f})"
                          f"     {r['bytes'] / 1000:11.0f}  {r['server_cpu']:9.0f}%  "
                          f"{r['viewers_cpu']:11.0f}%  {encodes}  {encode_ms}  "
                          f"{r['p50']:7.0f} / {r['p99']:4.0f} ms  {r['psnr']:5.1f}",
                          flush=True)  # fmt: skip
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
