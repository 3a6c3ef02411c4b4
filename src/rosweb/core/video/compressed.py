"""``<topic>/compressed`` siblings: raw image topics republished as JPEG CompressedImage.

For each topic of ``ROSWEB_COMPRESSED_TOPICS``, one subscription and one JPEG encoder on a
thread of its own publish ``<topic>/compressed`` (``sensor_msgs/CompressedImage``, format
``rgb8; jpeg compressed bgr8`` as image_transport writes it), so web viewers and bridged clients
never pull raw frames. The encoder always takes the newest frame: when it is slower than the
camera it skips frames, nothing queues.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from rosweb.core import images
from rosweb.core.video import frames
from rosweb.core.video.inputs import Publish
from rosweb.errors import RosWebError

__all__ = ["Closable", "Compressor", "Subscribe"]

log = logging.getLogger(__name__)


class Closable(Protocol):
    def close(self) -> None: ...


#: ``subscribe(topic, type_name, on_message)``: ``on_message(type_name, msg)`` must not block
Subscribe = Callable[[str, str | None, Callable[[str, dict[str, Any]], None]], Closable]


class Latest:
    """A slot of one: the newest (type, message) and a condition to wait for the next."""

    def __init__(self) -> None:
        self.item: tuple[str, dict[str, Any]] | None = None
        self.skipped = 0
        self.closed = False
        self._ready = threading.Condition()

    def put(self, type_name: str, msg: dict[str, Any]) -> None:
        with self._ready:
            if self.item is not None:
                self.skipped += 1
            self.item = (type_name, msg)
            self._ready.notify()

    def take(self, timeout: float) -> tuple[str, dict[str, Any]] | None:
        with self._ready:
            if self.item is None and not self.closed:
                self._ready.wait(timeout)
            item, self.item = self.item, None
            return item

    def close(self) -> None:
        with self._ready:
            self.closed = True
            self._ready.notify_all()


class Compressor:
    """Republish each topic of ``topics`` as ``<topic>/compressed``."""

    def __init__(
        self, topics: Sequence[str], subscribe: Subscribe, publish: Publish, quality: int = 80
    ) -> None:
        self.topics = [t if t.startswith("/") else f"/{t}" for t in topics]
        self.quality = quality
        self.frames: dict[str, int] = dict.fromkeys(self.topics, 0)
        self.errors: dict[str, int] = dict.fromkeys(self.topics, 0)
        self._subscribe = subscribe
        self._publish = publish
        self._slots = {topic: Latest() for topic in self.topics}
        self._handles: list[Closable] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for topic in self.topics:
            slot = self._slots[topic]
            self._handles.append(self._subscribe(topic, frames.IMAGE, slot.put))
            thread = threading.Thread(
                target=self._run, args=(topic, slot), name="rosweb-compress", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _run(self, topic: str, slot: Latest) -> None:
        out = f"{topic}/compressed"
        while not slot.closed:
            item = slot.take(1.0)
            if item is None:
                continue
            type_name, msg = item
            try:
                picture = images.picture(type_name, msg)
                jpeg = images.jpeg(picture, self.quality)
                source = "mono8" if picture.layout == "gray" else "rgb8"
                self._publish(out, frames.COMPRESSED,
                              frames.compressed_message(jpeg, msg["header"], source))  # fmt: skip
            except RosWebError as err:
                self.errors[topic] += 1
                if self.errors[topic] == 1:
                    log.warning("cannot republish %s as %s: %s", topic, out, err)
                continue
            self.frames[topic] += 1

    def health(self) -> list[dict[str, Any]]:
        return [
            {"topic": topic, "compressed": f"{topic}/compressed", "frames": self.frames[topic],
             "skipped": self._slots[topic].skipped, "errors": self.errors[topic]}
            for topic in self.topics
        ]  # fmt: skip

    def close(self) -> None:
        for handle in self._handles:
            handle.close()
        for slot in self._slots.values():
            slot.close()
        for thread in self._threads:
            thread.join(timeout=2)
