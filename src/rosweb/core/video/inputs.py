"""Camera inputs: a V4L2 device, a video file or an RTSP/HTTP stream published as a topic.

``rosweb run --input SOURCE[=TOPIC][#OPTIONS]`` (or ``ROSWEB_INPUTS``): each source is decoded by
PyAV (FFmpeg) on a thread of its own and every frame is published, at the source's rate, as a
``sensor_msgs/Image`` (rgb8) or, with ``jpeg=1``, a ``sensor_msgs/CompressedImage``, stamped with
the wall-clock time of its decoding and the input's frame id. Publishing goes through the
``publish(topic, type_name, msg)`` it is given (the robot's trusted local publish), so it works on
every backend.

Options (``#key=value&key=value``): ``loop`` (files: start again at the end; default 1), ``fps``
(publish at most this rate; a device is asked for it), ``size`` (a device's capture size, e.g.
``1280x720``), ``width`` (scale the picture down), ``frame_id``, ``jpeg`` and ``quality``.

A source that cannot be opened at start-up is a :class:`~rosweb.errors.ConfigError` with one
clear line; one that fails later (unplugged, network down) is reopened with backoff (0.5 s
doubling to :data:`MAX_BACKOFF`) and says so in :meth:`Input.health`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import av
from av.container import InputContainer

from rosweb.core.video import frames
from rosweb.errors import ConfigError, RosWebError

__all__ = ["MAX_BACKOFF", "Input", "InputSpec", "Inputs", "Publish", "parse_input"]

log = logging.getLogger(__name__)

Publish = Callable[[str, str, dict[str, Any]], None]

FIRST_BACKOFF = 0.5
MAX_BACKOFF = 10.0  # seconds between attempts to reopen a failed source, at most
OPEN_TIMEOUT = 5.0  # seconds to open a source or wait for its data
_OPTIONS = {"loop", "fps", "size", "width", "frame_id", "jpeg", "quality"}
_NAME = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True)
class InputSpec:
    """One ``--input``: where from, to which topic, how."""

    text: str
    source: str
    topic: str
    kind: str  # device, file, stream
    loop: bool = True
    fps: float = 0.0
    size: str = ""
    width: int = 0
    frame_id: str = ""
    jpeg: bool = False
    quality: int = 80
    type_name: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "type_name", frames.COMPRESSED if self.jpeg else frames.IMAGE)


def _kind(source: str) -> str:
    if source.startswith("/dev/"):
        return "device"
    if re.match(r"^[a-z][a-z0-9+.-]*://", source):
        return "stream"
    return "file"


def _number(spec: str, key: str, value: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not low <= number <= high:
        raise ConfigError(
            f"--input {spec}: {key} expects a number in [{low}, {high}], got {value!r}"
        )
    return number


def _flag(spec: str, key: str, value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"--input {spec}: {key} expects 0 or 1, got {value!r}")


def parse_input(spec: str, index: int = 0) -> InputSpec:
    """``SOURCE[=TOPIC][#key=value&...]`` as an :class:`InputSpec`; ConfigError if malformed."""
    text = spec.strip()
    body, _, fragment = text.partition("#")
    source, sep, topic = body.rpartition("=")
    if not sep or not topic.startswith("/"):
        source, topic = body, ""
    if not source:
        raise ConfigError(f"--input {spec!r}: expects SOURCE[=TOPIC] (a device, file or URL)")
    kind = _kind(source)
    options = dict(parse_qsl(fragment, keep_blank_values=True))
    unknown = set(options) - _OPTIONS
    if unknown:
        raise ConfigError(
            f"--input {spec}: unknown option {sorted(unknown)[0]!r} (known: {sorted(_OPTIONS)})"
        )
    size = options.get("size", "")
    if size and not re.fullmatch(r"\d{1,5}x\d{1,5}", size):
        raise ConfigError(f"--input {spec}: size expects WIDTHxHEIGHT, got {size!r}")
    jpeg = _flag(spec, "jpeg", options.get("jpeg", "0"))
    if not topic:
        if kind == "device":
            name = Path(source).name
        elif kind == "file":
            name = Path(source).stem
        else:
            name = f"input{index}"
        name = _NAME.sub("_", name) or f"input{index}"
        topic = f"/{name}/image_raw" + ("/compressed" if jpeg else "")
    if not re.fullmatch(r"(/[A-Za-z_][A-Za-z0-9_]*)+", topic):
        raise ConfigError(f"--input {spec}: {topic!r} is not a valid topic name")
    namespace = topic.rsplit("/image_raw", 1)[0].strip("/") or "camera"
    return InputSpec(
        text=text,
        source=source,
        topic=topic,
        kind=kind,
        loop=_flag(spec, "loop", options.get("loop", "1")),
        fps=_number(spec, "fps", options.get("fps", "0"), 0, 240),
        size=size,
        width=int(_number(spec, "width", options.get("width", "0"), 0, 8192)),
        frame_id=options.get("frame_id") or namespace.replace("/", "_"),
        jpeg=jpeg,
        quality=int(_number(spec, "quality", options.get("quality", "80"), 1, 100)),
    )


def _open(spec: InputSpec) -> InputContainer:
    """Open the source (raises av's errors or OSError)."""
    options: dict[str, str] = {}
    fmt = None
    if spec.kind == "device":
        fmt = "v4l2"
        if spec.size:
            options["video_size"] = spec.size
        if spec.fps:
            options["framerate"] = f"{spec.fps:g}"
    elif spec.kind == "stream" and spec.source.startswith("rtsp"):
        options["rtsp_transport"] = "tcp"
    container = av.open(spec.source, format=fmt, options=options, timeout=OPEN_TIMEOUT)
    if not container.streams.video:
        container.close()
        raise ConfigError(f"{spec.source} has no video stream")
    return container


class Input:
    """One source, decoded and published on its own thread."""

    def __init__(self, spec: InputSpec, publish: Publish) -> None:
        self.spec = spec
        self._publish = publish
        self.state = "starting"  # running, retrying, ended, stopped
        self.error = ""
        self.frames = 0
        self.publish_errors = 0
        self.retries = 0
        self.size: tuple[int, int] | None = None
        self.codec = ""
        self._last_frame = 0.0
        self._rate: list[float] = []  # monotonic times of the last frames (for the rate)
        self._next_retry = 0.0
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._container: InputContainer | None = None

    def probe(self) -> None:
        """Open the source now (ConfigError naming it if it cannot be)."""
        try:
            self._container = _open(self.spec)
        except (av.FFmpegError, OSError, ConfigError) as err:
            raise ConfigError(f"--input {self.spec.text}: cannot open {self.spec.source}: "
                              f"{_reason(err)}") from err  # fmt: skip

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"rosweb-input-{self.spec.topic}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        failures = 0
        while not self._stopped.is_set():
            try:
                container, self._container = self._container or _open(self.spec), None
                with container:
                    self.state, self.error = "running", ""
                    if self._stream(container):
                        failures = 0  # frames came: a later failure starts the backoff anew
                if self._stopped.is_set():
                    break
                if self.spec.kind == "file" and not self.spec.loop:
                    self.state = "ended"
                    return
                if self.spec.kind != "file":
                    raise EOFError("the stream ended")
            except (av.FFmpegError, OSError, EOFError, ConfigError) as err:
                failures += 1
                self.retries += 1
                delay = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (failures - 1))
                self.state, self.error = "retrying", _reason(err)
                self._next_retry = time.monotonic() + delay
                if failures == 1:
                    log.warning("input %s failed (%s): retrying", self.spec.source, self.error)
                self._stopped.wait(delay)
            except Exception:  # a bug: logged with context, the input stops
                log.exception("input %s stopped", self.spec.source)
                self.state, self.error = "stopped", "internal error (see the log)"
                return
        self.state = "stopped"

    def _stream(self, container: InputContainer) -> bool:
        """Decode and publish until the end or a stop; True if any frame came."""
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        self.codec = stream.codec_context.name
        paced = self.spec.kind == "file"
        start_wall: float | None = None
        start_time = 0.0
        interval = 1.0 / self.spec.fps if self.spec.fps else 0.0
        last_sent = -1e9
        got = False
        for frame in container.decode(stream):
            if self._stopped.is_set():
                break
            got = True
            if paced and frame.time is not None:
                now = time.monotonic()
                if start_wall is None or now - (start_wall + frame.time - start_time) > 1.0:
                    start_wall, start_time = now, frame.time  # first frame, or far behind
                due = start_wall + frame.time - start_time
                if due > now and self._stopped.wait(due - now):
                    break
            now = time.monotonic()
            if interval and now - last_sent < interval * 0.9:
                continue
            last_sent = now
            self._send(frame)
        return got

    def _send(self, frame: av.VideoFrame) -> None:
        spec = self.spec
        pixels = frames.to_pixels(frame, spec.width or None)
        head = frames.header(spec.frame_id, self.frames)
        if spec.jpeg:
            msg = frames.compressed_message(frames.jpeg_of(pixels, spec.quality), head)
        else:
            msg = frames.image_message(pixels, head)
        try:
            self._publish(spec.topic, spec.type_name, msg)
        except RosWebError as err:
            self.publish_errors += 1
            if self.publish_errors == 1:
                log.warning("input %s: cannot publish %s: %s", spec.source, spec.topic, err)
            return
        self.frames += 1
        self.size = (int(msg.get("width", frame.width)), int(msg.get("height", frame.height)))
        now = time.monotonic()
        self._last_frame = now
        self._rate.append(now)
        if len(self._rate) > 30:
            del self._rate[0]

    def fps(self) -> float:
        """The publish rate over the last frames (0 when none came for a second)."""
        times = self._rate[-30:]
        if len(times) < 2 or time.monotonic() - times[-1] > 1.0:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def health(self) -> dict[str, Any]:
        """What /api/health says about this input."""
        spec = self.spec
        report: dict[str, Any] = {
            "source": spec.source,
            "topic": spec.topic,
            "type": spec.type_name,
            "state": self.state,
            "frames": self.frames,
            "fps": round(self.fps(), 2),
            "size": list(self.size) if self.size else None,
            "codec": self.codec,
            "retries": self.retries,
        }
        if self.error:
            report["error"] = self.error
        if self.state == "retrying":
            report["retry_in"] = round(max(0.0, self._next_retry - time.monotonic()), 2)
        if self.publish_errors:
            report["publish_errors"] = self.publish_errors
        return report

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._container is not None:
            self._container.close()
            self._container = None
        self.state = "stopped"


def _reason(err: BaseException) -> str:
    if isinstance(err, av.FFmpegError):
        return err.strerror or str(err)
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__


class Inputs:
    """Every ``--input`` of a server."""

    def __init__(
        self,
        specs: Sequence[str],
        publish: Publish,
        advertise: Callable[[str, str], Any] | None = None,
    ) -> None:
        """``advertise(topic, type_name)`` (optional) makes each topic known at once, before its
        first frame; what it returns is closed with the inputs."""
        self._advertise = advertise
        self._adverts: list[Any] = []
        parsed = [parse_input(text, index) for index, text in enumerate(specs)]
        topics = [spec.topic for spec in parsed]
        for topic in topics:
            if topics.count(topic) > 1:
                raise ConfigError(f"--input: two inputs publish {topic}: name their topics")
        self.inputs = [Input(spec, publish) for spec in parsed]

    def start(self) -> None:
        """Open every source (ConfigError on the first that cannot be), then start them all."""
        try:
            for item in self.inputs:
                item.probe()
        except ConfigError:
            self.close()
            raise
        for item in self.inputs:
            if self._advertise is not None:
                self._adverts.append(self._advertise(item.spec.topic, item.spec.type_name))
            item.start()

    def health(self) -> list[dict[str, Any]]:
        return [item.health() for item in self.inputs]

    def close(self) -> None:
        for item in self.inputs:
            item.stop()
        for advert in self._adverts:
            if hasattr(advert, "close"):
                advert.close()
        self._adverts.clear()
