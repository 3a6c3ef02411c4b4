"""Camera frames as JPEG, from sensor_msgs/Image and CompressedImage topics (no HTTP here).

One :class:`JpegSource` per (topic, quality, width) encodes each new frame once, on a thread of
its own (never on the middleware's), and every viewer of that variant shares the result. A viewer
always takes the newest frame: a slow one skips frames, nothing queues. A source with no viewer
left stops (and unsubscribes) after a short grace.

The web side serves them as ``GET /stream/<topic>.mjpg`` (multipart/x-mixed-replace) and
``GET /snapshot/<topic>.jpg``: :mod:`rosweb.web.stream` (Flask) and :mod:`rosweb.server.mjpeg`
(Tornado).
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rosweb.core import images
from rosweb.core.images import IMAGE_TYPES, ImageError, image_kind
from rosweb.core.names import number_arg, ros_name
from rosweb.errors import NotFoundError, TooBusy, ValidationError
from rosweb.hub import Consumer, Hub
from rosweb.messages import Message

__all__ = [
    "BOUNDARY",
    "IMAGE_TYPES",
    "MAX_WIDTH",
    "WIDTHS",
    "ImageError",
    "JpegSource",
    "Streams",
    "encode_jpeg",
    "frame_interval",
    "image_kind",
]

log = logging.getLogger(__name__)

BOUNDARY = "rosweb-frame"
GRACE = 5.0  # seconds a source without viewers keeps running (a page reload comes back)
#: the widths a viewer may ask for (a width in between is rounded up to the next): a client
#: cannot start one encoder per pixel of width
WIDTHS = (160, 240, 320, 480, 640, 800, 960, 1280, 1600, 1920)
MAX_WIDTH = WIDTHS[-1]
QUALITY_STEP = 10  # qualities are rounded to a multiple of this (10..100)


def encode_jpeg(type_name: str, msg: Message, quality: int, width: int | None) -> bytes:
    """A JPEG of an Image or CompressedImage message; a JPEG CompressedImage passes through
    untouched when no resize is asked."""
    if width is None and (jpeg := images.jpeg_passthrough(type_name, msg)) is not None:
        return jpeg
    return images.jpeg(images.picture(type_name, msg), quality, width)


@dataclass(frozen=True)
class Variant:
    topic: str
    quality: int
    width: int | None


class JpegSource:
    """The newest JPEG of one (topic, quality, width), encoded once per frame for all viewers."""

    def __init__(self, streams: Streams, hub: Hub, variant: Variant, type_name: str) -> None:
        self.variant = variant
        self.type = type_name
        self.seq = 0
        self.jpeg: bytes | None = None
        self.part: bytes = b""  # the multipart part of the newest frame, made once
        self.encodes = 0
        self.frames_in = 0
        self.errors = 0
        self.viewers = 0
        self.idle_since: float | None = time.monotonic()  # until the first viewer attaches
        self.listeners: set[Callable[[], None]] = set()  # called on each new frame
        self._streams = streams
        self._new = threading.Condition()
        self._consumer: Consumer = hub.consume(variant.topic, type_name, queue_length=1)
        self._thread = threading.Thread(target=self._run, name="rosweb-jpeg", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._consumer.closed:
            envelope = self._consumer.get(timeout=1.0)
            idle = self.idle_since
            if idle is not None and time.monotonic() - idle > GRACE:
                self._streams.drop(self)  # nobody watches any more: stop encoding by itself
                return
            if envelope is None:
                continue
            self.frames_in += 1
            try:
                jpeg = encode_jpeg(
                    self.type, envelope.msg, self.variant.quality, self.variant.width
                )
            except ImageError as err:
                self.errors += 1
                if self.errors == 1:
                    log.warning("%s: %s", self.variant.topic, err)
                continue
            self.encodes += 1
            head = (
                f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
            ).encode()
            with self._new:
                self.jpeg, self.part = jpeg, head + jpeg + b"\r\n"
                self.seq += 1
                self._new.notify_all()
            for listener in list(self.listeners):
                listener()

    def latest(self) -> tuple[int, bytes]:
        with self._new:
            return self.seq, self.part

    def wait(self, after: int, timeout: float) -> tuple[int, bytes | None]:
        """The newest frame after sequence ``after`` (waiting up to ``timeout``): (seq, part)."""
        with self._new:
            if self.seq <= after and not self._consumer.closed:
                self._new.wait(timeout)
            if self.seq <= after:
                return after, None
            return self.seq, self.part

    def attach(self) -> None:
        with self._new:
            self.viewers += 1
            self.idle_since = None

    def detach(self) -> None:
        with self._new:
            self.viewers -= 1
            if self.viewers <= 0:
                self.idle_since = time.monotonic()

    def close(self) -> None:
        self._consumer.close()
        with self._new:
            self._new.notify_all()


class Streams:
    """The app's JPEG sources, one per variant, made on demand and stopped when unwatched."""

    def __init__(self, hub: Hub, *, max_sources: int = 8) -> None:
        self.hub = hub
        self.max_sources = max_sources
        self._sources: dict[Variant, JpegSource] = {}
        self._lock = threading.Lock()

    def source(self, topic: str, args: Mapping[str, str]) -> JpegSource:
        """The source for a viewer (attached: call ``detach`` when done). ``args``: ``quality``
        (1-100, rounded to a multiple of 10) and ``width`` (16-1920, rounded up to one of
        :data:`WIDTHS`). 400 for bad arguments, 404 for no such topic, 422 for a topic that is
        not an image, 503 when ``max_sources`` encoders run already. May block (the backend is
        asked for the topic's type): call it off an event loop."""
        name = ros_name(topic, "topic")
        try:
            type_name = self.hub.graph.topic_type(name)
        except NotFoundError:
            if not self.hub.cached(name):
                raise
            type_name = self.hub.feeds()[name]["type"]
        if image_kind(type_name) is None:
            err = ValidationError(f"{name} is a {type_name}, not an image", "topic")
            err.code = "not_an_image"
            raise err
        quality = int(number_arg(args, "quality", 80, 1, 100))
        quality = min(100, max(QUALITY_STEP, round(quality / QUALITY_STEP) * QUALITY_STEP))
        width: int | None = None
        if args.get("width"):
            asked = number_arg(args, "width", 0, 16, MAX_WIDTH)
            width = WIDTHS[min(bisect.bisect_left(WIDTHS, asked), len(WIDTHS) - 1)]
        variant = Variant(name, quality, width)
        self._expire()
        with self._lock:
            source = self._sources.get(variant)
            if source is None:
                if len(self._sources) >= self.max_sources:
                    raise TooBusy(
                        f"{self.max_sources} camera encoders run already (ROSWEB_MAX_ENCODERS): "
                        "use a quality and width someone else watches, or retry later",
                        "too_many_encoders",
                    )
                source = self._sources[variant] = JpegSource(self, self.hub, variant, type_name)
            source.attach()
        return source

    def drop(self, source: JpegSource) -> None:
        """Forget a source that stopped itself (no viewer for :data:`GRACE` s)."""
        with self._lock:
            if self._sources.get(source.variant) is source and source.viewers <= 0:
                del self._sources[source.variant]
            else:
                return
        source.close()

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            idle = [
                v
                for v, s in self._sources.items()
                if s.idle_since is not None and now - s.idle_since > GRACE
            ]
            sources = [self._sources.pop(v) for v in idle]
        for source in sources:
            source.close()

    def sources(self) -> list[JpegSource]:
        with self._lock:
            return list(self._sources.values())

    def close(self) -> None:
        with self._lock:
            sources = list(self._sources.values())
            self._sources.clear()
        for source in sources:
            source.close()


def frame_interval(args: Mapping[str, str]) -> float:
    """Seconds between MJPEG frames for ``fps`` (up to 120; default: as frames come)."""
    fps = number_arg(args, "fps", 0.0, 0.0, 120.0)
    return 1.0 / fps if fps > 0 else 0.0
