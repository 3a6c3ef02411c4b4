"""One video encoder per (topic, width, bitrate, codec), shared by every WebRTC viewer.

A :class:`SharedEncoder` subscribes its image topic once, takes the newest frame (a slow encoder
skips frames, nothing queues), encodes it with PyAV (libvpx for VP8, libx264 for H.264) on a
thread of its own, and hands the same encoded packet to every viewer. A viewer joining, or
reporting picture loss (RTCP PLI/FIR), asks for a keyframe. Congestion control: each viewer's
receiver estimate (RTCP REMB) is reported here, and the encoder runs at the lowest estimate of
its viewers, within [:data:`MIN_BITRATE`, the variant's bitrate].

Cost: one libswscale pass per frame from the message's own layout to yuv420p, one encoder
thread (:func:`encoder_threads`), keyframes asked for at most every :data:`KEYFRAME_GAP`;
``stats()["cpu"]`` is the CPU time the encoder's thread spent (conversion and encoding).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any, NamedTuple

import av
from av.codec.context import CodecContext
from av.packet import Packet
from av.video.codeccontext import VideoCodecContext
from av.video.frame import PictureType

from rosweb.core import images
from rosweb.core.video import frames
from rosweb.core.video.compressed import Closable, Latest, Subscribe
from rosweb.errors import RosWebError

__all__ = ["CODECS", "MIN_BITRATE", "SharedEncoder", "Variant", "encoder_threads"]

log = logging.getLogger(__name__)

CODECS = {"vp8": "libvpx", "h264": "libx264"}
MIN_BITRATE = 100_000
TIME_BASE = Fraction(1, 90_000)  # RTP's video clock
RETUNE_AFTER = 2.0  # seconds between two bitrate changes, at least
RETUNE_RATIO = 0.15  # the estimate must move this much before the encoder is rebuilt
KEYFRAME_GAP = 0.5  # seconds between two keyframes asked for (viewers joining, lagging, PLI)


def encoder_threads(width: int, height: int, cores: int | None = None) -> int:
    """Threads for one encoder: one below 1280x720 or on 4 cores or fewer. libvpx's threads
    wait for each other by spinning: on a 2-core machine shared with the node and the server,
    two threads cost two to three times the CPU of one for the same frame."""
    cores = cores or os.cpu_count() or 1
    if width * height < 1280 * 720 or cores <= 4:
        return 1
    return 2 if cores <= 8 else 4


class Variant(NamedTuple):
    topic: str
    width: int  # 0: the source's
    bitrate: int  # bits per second, the ceiling
    codec: str  # vp8, h264


#: called with (packet, keyframe) on the encoder's thread: must not block
Sink = Callable[["Packet[Any]", bool], None]


class SharedEncoder:
    """The encoder of one variant and the viewers it feeds."""

    def __init__(self, variant: Variant, subscribe: Subscribe) -> None:
        self.variant = variant
        self.frames_in = 0
        self.encoded = 0
        self.keyframes = 0
        self.bytes_out = 0
        self.errors = 0
        self.cpu = 0.0  # seconds of CPU this encoder's thread spent (conversion and encoding)
        self.size: tuple[int, int] | None = None
        self.bitrate = variant.bitrate
        self.idle_since: float | None = None
        self._sinks: dict[int, Sink] = {}
        self._estimates: dict[int, int] = {}
        self._keyframe = threading.Event()
        self._lock = threading.Lock()
        self._slot = Latest()
        self._codec: VideoCodecContext | None = None
        self._retuned = 0.0
        self._start = time.monotonic()
        self._last_pts = -1
        self._last_key = -KEYFRAME_GAP  # when the last keyframe was made (monotonic)
        self._handle: Closable = subscribe(variant.topic, None, self._slot.put)
        self._thread = threading.Thread(target=self._run, name="rosweb-rtc-encoder", daemon=True)
        self._thread.start()

    # -- viewers ---------------------------------------------------------------------------------

    def attach(self, key: int, sink: Sink) -> None:
        with self._lock:
            self._sinks[key] = sink
            self.idle_since = None
        self._keyframe.set()

    def detach(self, key: int) -> None:
        with self._lock:
            self._sinks.pop(key, None)
            self._estimates.pop(key, None)
            if not self._sinks:
                self.idle_since = time.monotonic()

    @property
    def viewers(self) -> int:
        return len(self._sinks)

    def request_keyframe(self) -> None:
        self._keyframe.set()

    def estimate(self, key: int, bitrate: int) -> None:
        """A viewer's receiver estimate (REMB), in bits per second."""
        with self._lock:
            if key in self._sinks:
                self._estimates[key] = bitrate

    def _target(self) -> int:
        with self._lock:
            lowest = min(self._estimates.values(), default=self.variant.bitrate)
        return max(MIN_BITRATE, min(self.variant.bitrate, lowest))

    # -- encoding --------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._slot.closed:
            item = self._slot.take(1.0)
            if item is None:
                continue
            self.frames_in += 1
            started = time.thread_time()
            try:
                self._encode(*item)
            except (RosWebError, av.FFmpegError, ValueError) as err:
                self.errors += 1
                if self.errors == 1:
                    log.warning("%s: cannot encode a frame: %s", self.variant.topic, err)
            except Exception:
                self.errors += 1
                log.exception("%s: the video encoder failed", self.variant.topic)
            self.cpu += time.thread_time() - started

    def _open(self, width: int, height: int, bitrate: int) -> VideoCodecContext:
        codec = CodecContext.create(CODECS[self.variant.codec], "w")
        assert isinstance(codec, VideoCodecContext)
        codec.width, codec.height = width, height
        codec.bit_rate = bitrate
        codec.pix_fmt = "yuv420p"
        codec.time_base = TIME_BASE
        codec.framerate = Fraction(30, 1)
        codec.gop_size = 600  # keyframes mostly on demand (a viewer joins or loses one)
        codec.thread_count = encoder_threads(width, height)
        if self.variant.codec == "vp8":
            codec.qmin, codec.qmax = 2, 56
            codec.options = {
                "deadline": "realtime", "cpu-used": "-6", "lag-in-frames": "0",
                "bufsize": str(bitrate), "minrate": str(bitrate), "maxrate": str(bitrate),
                "undershoot-pct": "100", "overshoot-pct": "15", "static-thresh": "1",
                "noise-sensitivity": "0", "partitions": "0", "error-resilient": "1",
            }  # fmt: skip
        else:
            codec.profile = "Baseline"
            codec.options = {"preset": "ultrafast", "tune": "zerolatency", "level": "31",
                             "forced-idr": "1", "bufsize": str(bitrate),
                             "maxrate": str(bitrate)}  # fmt: skip
        codec.open()
        self._retuned = time.monotonic()
        self.bitrate = bitrate
        return codec

    def _encode(self, type_name: str, msg: dict[str, Any]) -> None:
        frame = frames.video_frame(images.picture(type_name, msg), self.variant.width or None)
        codec = self._codec
        now = time.monotonic()
        target = self._target()
        retune = (
            abs(target - self.bitrate) > RETUNE_RATIO * self.bitrate
            and now - self._retuned > RETUNE_AFTER
        )
        if codec is not None and retune and self.variant.codec == "h264":
            codec.bit_rate = self.bitrate = target  # x264 takes a new bitrate as it runs
            self._retuned, retune = now, False
        if codec is not None and (
            retune or (frame.width, frame.height) != (codec.width, codec.height)
        ):
            codec = None  # libvpx: a new encoder (its first frame is a keyframe)
        if codec is None:
            codec = self._codec = self._open(frame.width, frame.height, target)
            self._keyframe.set()
            self._last_key = -KEYFRAME_GAP
        self.size = (frame.width, frame.height)
        pts = max(self._last_pts + 1, int((now - self._start) * 90_000))
        self._last_pts = pts
        frame.pts, frame.time_base = pts, TIME_BASE
        if self._keyframe.is_set() and now - self._last_key >= KEYFRAME_GAP:
            self._keyframe.clear()  # requests within the gap wait for it: one slow viewer's
            frame.pict_type = PictureType.I  # requests cannot make every frame a keyframe
        packets = codec.encode(frame)
        data = b"".join(bytes(p) for p in packets)
        if not data:
            return
        key = any(p.is_keyframe for p in packets)
        if key:
            self._last_key = now
        packet = Packet(data)
        packet.pts = packet.dts = pts
        packet.time_base = TIME_BASE
        self.encoded += 1
        self.bytes_out += len(data)
        self.keyframes += key
        with self._lock:
            sinks = list(self._sinks.values())
        for sink in sinks:
            sink(packet, key)

    def stats(self) -> dict[str, Any]:
        topic, width, ceiling, codec = self.variant
        return {
            "topic": topic, "width": width or None, "codec": codec, "max_bitrate": ceiling,
            "bitrate": self.bitrate, "viewers": self.viewers, "frames_in": self.frames_in,
            "encoded": self.encoded, "keyframes": self.keyframes, "bytes": self.bytes_out,
            "skipped": self._slot.skipped, "errors": self.errors, "cpu": round(self.cpu, 3),
            "size": list(self.size) if self.size else None,
        }  # fmt: skip

    def close(self) -> None:
        self._handle.close()
        self._slot.close()
        self._thread.join(timeout=2)
