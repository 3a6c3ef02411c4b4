"""Camera streaming: MJPEG and snapshots from sensor_msgs/Image and CompressedImage topics.

One :class:`JpegSource` per (topic, quality, width) encodes each new frame once, on a thread of
its own (never on the middleware's), and every viewer of that variant shares the result. A viewer
always takes the newest frame: a slow one skips frames, nothing queues. A source with no viewer
left stops (and unsubscribes) after a short grace.

``GET /stream/<topic>.mjpg?quality=&width=&fps=`` (multipart/x-mixed-replace) and
``GET /snapshot/<topic>.jpg``: Flask routes for any WSGI server, and a native Tornado handler for
``rosweb run`` (Tornado's WSGI container buffers whole responses, so an endless one cannot go
through it).
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import tornado.iostream
import tornado.web
from flask import Blueprint, Response, request
from PIL import Image

from rosweb.errors import NotFoundError, RosWebError
from rosweb.hub import Consumer, Hub
from rosweb.messages import Message
from rosweb.web.errors import ApiError, TornadoJsonErrors, query_number, tornado_error

__all__ = ["JpegSource", "MjpegHandler", "Streams", "encode_jpeg", "stream_blueprint"]

log = logging.getLogger(__name__)

IMAGE_TYPES = ("sensor_msgs/Image", "sensor_msgs/CompressedImage")
BOUNDARY = "rosweb-frame"
GRACE = 5.0  # seconds a source without viewers keeps running (a page reload comes back)

#: sensor_msgs/Image encoding -> (numpy dtype, channels, PIL mode of the array, channel order)
_ENCODINGS: dict[str, tuple[str, int, str]] = {
    "rgb8": ("u1", 3, "RGB"),
    "bgr8": ("u1", 3, "BGR"),
    "rgba8": ("u1", 4, "RGBA"),
    "bgra8": ("u1", 4, "BGRA"),
    "mono8": ("u1", 1, "L"),
    "mono16": ("u2", 1, "L16"),
}


class ImageError(RosWebError):
    """A message that cannot be shown as an image."""


def _to_pil(msg: Message) -> Image.Image:
    encoding = msg["encoding"].lower()
    if encoding not in _ENCODINGS:
        raise ImageError(f"image encoding {msg['encoding']!r} is not one of {list(_ENCODINGS)}")
    dtype, channels, layout = _ENCODINGS[encoding]
    height, width, step = msg["height"], msg["width"], msg["step"]
    item = np.dtype(dtype).newbyteorder(">" if msg["is_bigendian"] else "<")
    data = np.frombuffer(msg["data"], dtype=np.uint8)
    if height * step > data.size or width * channels * item.itemsize > step:
        raise ImageError(
            f"image data of {data.size} bytes does not fit {width}x{height} {encoding}"
        )
    rows = data[: height * step].reshape(height, step)[:, : width * channels * item.itemsize]
    pixels = np.ascontiguousarray(rows).view(item).reshape(height, width, channels)
    if layout == "L16":  # 16-bit depth or mono: scale to 8 bits for viewing
        plane = pixels[:, :, 0].astype(np.float32)
        top = float(plane.max()) or 1.0
        return Image.fromarray((plane * (255.0 / top)).astype(np.uint8), "L")
    if layout in ("BGR", "BGRA"):
        pixels = pixels[:, :, [2, 1, 0, 3][:channels]]
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[channels]
    image = Image.fromarray(pixels.squeeze(2) if channels == 1 else pixels, mode)
    return image.convert("RGB") if mode == "RGBA" else image


def encode_jpeg(type_name: str, msg: Message, quality: int, width: int | None) -> bytes:
    """A JPEG of an Image or CompressedImage message; a JPEG CompressedImage passes through
    untouched when no resize is asked."""
    if type_name == "sensor_msgs/CompressedImage":
        data = bytes(msg["data"])
        is_jpeg = data[:3] == b"\xff\xd8\xff"
        if is_jpeg and width is None:
            return data
        try:
            image: Image.Image = Image.open(io.BytesIO(data))
            image.load()
        except (OSError, ValueError) as err:
            raise ImageError(f"cannot decode the {msg['format']!r} image: {err}") from err
        image = image.convert("RGB") if image.mode not in ("RGB", "L") else image
    else:
        image = _to_pil(msg)
    if width is not None and width != image.width:
        height = max(1, round(image.height * width / image.width))
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


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
        self.idle_since: float | None = None
        self.listeners: set[Callable[[], None]] = set()  # called on each new frame
        self._streams = streams
        self._new = threading.Condition()
        self._consumer: Consumer = hub.consume(variant.topic, type_name, queue_length=1)
        self._thread = threading.Thread(target=self._run, name="rosweb-jpeg", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._consumer.closed:
            envelope = self._consumer.get(timeout=1.0)
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

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._sources: dict[Variant, JpegSource] = {}
        self._lock = threading.Lock()

    def source(self, topic: str, args: Mapping[str, str]) -> JpegSource:
        """The source for a viewer (attached: call ``detach`` when done); ApiError if bad."""
        from rosweb.web.api import topic_name

        name = topic_name(topic)
        try:
            type_name = self.hub.graph.topic_type(name)
        except NotFoundError:
            if not self.hub.cached(name):
                raise
            type_name = self.hub.feeds()[name]["type"]
        if type_name not in IMAGE_TYPES:
            raise ApiError(422, "not_an_image", f"{name} is a {type_name}, not an image", "topic")
        quality = int(query_number(args, "quality", 80, 1, 100))
        width = args.get("width")
        variant = Variant(
            name, quality, int(query_number(args, "width", 0, 16, 4096)) if width else None
        )
        self._expire()
        with self._lock:
            source = self._sources.get(variant)
            if source is None:
                source = self._sources[variant] = JpegSource(self, self.hub, variant, type_name)
            source.attach()
        return source

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


def _frame_interval(args: Mapping[str, str]) -> float:
    fps = query_number(args, "fps", 0, 0, 120)
    return 1.0 / fps if fps else 0.0


def mjpeg_parts(source: JpegSource, interval: float) -> Iterator[bytes]:
    """Blocking multipart stream (Flask): the newest frame each time, at most 1/interval fps."""
    seq = 0
    try:
        while True:
            seq, part = source.wait(seq, timeout=10.0)
            if part is not None:
                yield part
                if interval:
                    time.sleep(interval)
    finally:
        source.detach()


stream_blueprint = Blueprint("rosweb_stream", __name__)


def _streams() -> Streams:
    from rosweb.web.extension import get_state

    streams: Streams = get_state().streams
    return streams


def _see(topic: str) -> None:
    from rosweb.web.actions import Actor
    from rosweb.web.api import topic_name
    from rosweb.web.extension import get_state
    from rosweb.web.security import current_principal

    Actor(get_state(), current_principal()).see("topic", topic_name(topic))


@stream_blueprint.get("/stream/<path:topic>.mjpg")
def mjpeg(topic: str) -> Response:
    _see(topic)
    source = _streams().source(topic, request.args)
    interval = _frame_interval(request.args)
    response = Response(
        mjpeg_parts(source, interval), mimetype=f"multipart/x-mixed-replace; boundary={BOUNDARY}"
    )
    response.headers["Cache-Control"] = "no-cache, no-store"
    return response


@stream_blueprint.get("/snapshot/<path:topic>.jpg")
def snapshot(topic: str) -> Response:
    _see(topic)
    source = _streams().source(topic, request.args)
    try:
        _, _part = source.wait(0, timeout=5.0)
        jpeg = source.jpeg
    finally:
        source.detach()
    if jpeg is None:
        raise ApiError(404, "no_message", f"no frame on {source.variant.topic} within 5 s")
    response = Response(jpeg, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "no-cache, no-store"
    return response


class MjpegHandler(TornadoJsonErrors, tornado.web.RequestHandler):
    """The MJPEG stream as a native Tornado handler: each viewer gets the newest frame when it has
    taken the previous one (a slow one skips frames)."""

    def initialize(self, state: Any) -> None:
        self.state = state
        self.gone = False
        self.fresh = asyncio.Event()  # a new frame, or the viewer left

    async def get(self, topic: str) -> None:
        from rosweb.web.api import topic_name
        from rosweb.web.security import tornado_guard

        args = {k: self.get_argument(k) for k in self.request.arguments}
        try:
            if not tornado_guard(self, self.state, "topic", topic_name(topic)):
                return
            source = self.state.streams.source(topic, args)
            interval = _frame_interval(args)
        except ApiError as err:
            return tornado_error(self, err.status, err.code, err.message, err.field)
        except NotFoundError as err:
            return tornado_error(self, 404, "not_found", str(err))
        connection: Any = self.request.connection
        connection.stream.set_nodelay(True)
        self.set_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.set_header("Cache-Control", "no-cache, no-store")
        loop = asyncio.get_running_loop()
        fresh = self.fresh

        def listener() -> None:  # on the encoder's thread
            loop.call_soon_threadsafe(fresh.set)

        source.listeners.add(listener)
        seq = 0
        try:
            while not self.gone:
                if source.latest()[0] <= seq:
                    fresh.clear()
                    try:
                        await asyncio.wait_for(fresh.wait(), 1.0)
                    except TimeoutError:
                        continue
                if self.gone:
                    break
                seq, part = source.latest()
                self.write(part)
                await self.flush()  # a slow viewer waits here; meanwhile frames are skipped
                if interval:
                    await asyncio.sleep(interval)
        except tornado.iostream.StreamClosedError:
            pass
        finally:
            source.listeners.discard(listener)
            source.detach()

    def on_connection_close(self) -> None:
        self.gone = True
        self.fresh.set()
