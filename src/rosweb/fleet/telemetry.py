"""The robot's side of the fleet's telemetry: chosen topics, throttled, encoded once, retained.

Each topic of the robot matching a glob of ``ROSWEB_FLEET_TOPICS`` (``/odom@5``: at most 5 Hz) is
subscribed through the robot's guard (the fleet identity sees only what its role may see) with a
queue of one message: a slow broker link skips to the newest message, nothing queues. Images
(``sensor_msgs/Image``, ``CompressedImage``) go as JPEG (``ROSWEB_FLEET_JPEG_QUALITY``,
``ROSWEB_FLEET_JPEG_WIDTH``), anything else as one JSON (or CBOR) payload made from the message's
shared JSON text. Every telemetry message is retained: a fleet server that starts later sees
the latest state at once.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import cbor2

from rosweb.core import GuardedRobot, Subscription
from rosweb.core.camera import IMAGE_TYPES, ImageError, encode_jpeg
from rosweb.errors import RosWebError
from rosweb.graph.mqtt.contract import CBOR, JPEG, JSON, Layout
from rosweb.hub import Envelope

__all__ = ["Telemetry"]

log = logging.getLogger(__name__)

Send = Callable[[str, bytes, str, dict[str, str]], None]


class Telemetry:
    """Subscriptions to the chosen topics, each sending to ``send(mqtt_topic, payload,
    content_type, user_properties)``."""

    def __init__(
        self,
        robot: GuardedRobot,
        name: str,
        layout: Layout,
        rates: list[tuple[str, float]],
        send: Send,
        *,
        encoding: str = JSON,
        jpeg_quality: int = 60,
        jpeg_width: int = 320,
    ) -> None:
        self.robot = robot
        self.name = name
        self.layout = layout
        self.rates = rates
        self.send = send
        self.encoding = encoding
        self.jpeg_quality = jpeg_quality
        self.jpeg_width = jpeg_width
        self.sent = 0  #: telemetry messages handed to the broker
        self.bytes = 0  #: their payload bytes
        self.errors = 0
        self._subs: dict[str, Subscription] = {}
        self._chosen: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._head = json.dumps({"robot": name})[:-1]  # '{"robot": "r1"' made once

    def rate_of(self, topic: str) -> float | None:
        for glob, hz in self.rates:
            if fnmatch.fnmatchcase(topic, glob):
                return hz
        return None

    def chosen(self) -> dict[str, dict[str, Any]]:
        """Topic -> ``{type, hz, jpeg}`` of what is streamed (for the status)."""
        with self._lock:
            return {topic: dict(info) for topic, info in self._chosen.items()}

    def scan(self, topics: dict[str, str]) -> bool:
        """Subscribe the new topics that match (and drop the gone ones); True if it changed."""
        changed = False
        for topic, type_name in topics.items():
            hz = self.rate_of(topic)
            if hz is None or topic in self._subs or not type_name:
                continue
            try:
                sub = self.robot.subscribe(
                    topic, self._callback(topic), type_name=type_name,
                    throttle_rate=1000.0 / hz, queue_length=1,
                )  # fmt: skip
            except RosWebError as err:
                log.warning("fleet telemetry cannot subscribe %s: %s", topic, err)
                continue
            image = type_name in IMAGE_TYPES
            with self._lock:
                self._subs[topic] = sub
                self._chosen[topic] = {
                    "type": "sensor_msgs/CompressedImage" if image else type_name,
                    "hz": hz, "jpeg": image,
                }  # fmt: skip
            changed = True
        return changed

    def _callback(self, topic: str) -> Callable[[Envelope], None]:
        mqtt_topic = self.layout.topic(self.name, topic)

        def deliver(envelope: Envelope) -> None:
            try:
                payload, content_type, props = self.encode(envelope)
            except ImageError as err:
                self.errors += 1
                if self.errors == 1:
                    log.warning("fleet telemetry of %s: %s", topic, err)
                return
            try:
                self.send(mqtt_topic, payload, content_type, props)
            except RosWebError:  # the broker is away: the newest message goes when it is back
                return
            self.sent += 1
            self.bytes += len(payload)

        return deliver

    def encode(self, envelope: Envelope) -> tuple[bytes, str, dict[str, str]]:
        """The payload of one message: made once per message whatever the subscribers."""
        if envelope.type in IMAGE_TYPES:
            jpeg = envelope.encoded(
                ("fleet-jpeg", self.jpeg_quality, self.jpeg_width),
                lambda e: encode_jpeg(e.type, e.msg, self.jpeg_quality, self.jpeg_width),
            )
            props = {"robot": self.name, "topic": envelope.topic, "type": envelope.type,
                     "stamp": f"{envelope.received:.6f}"}  # fmt: skip
            return jpeg, JPEG, props
        if self.encoding == CBOR:
            body = {"robot": self.name, "topic": envelope.topic, "type": envelope.type,
                    "stamp": envelope.received, "msg": envelope.msg}  # fmt: skip
            return cbor2.dumps(body), CBOR, {}
        text = (
            f'{self._head},"topic":{json.dumps(envelope.topic)},"type":"{envelope.type}",'
            f'"stamp":{envelope.received:.6f},"msg":{envelope.json}}}'
        )
        return text.encode(), JSON, {}

    def close(self) -> None:
        with self._lock:
            subs = list(self._subs.values())
            self._subs.clear()
            self._chosen.clear()
        for sub in subs:
            sub.close()
