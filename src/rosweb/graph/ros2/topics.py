"""Publishers and subscriptions of a ROS 2 node over Zenoh, as rmw_zenoh maps them.

- A publisher is a Zenoh publisher on the topic's key with an ``MP`` token; each put carries the
  attachment (sequence number, timestamp, GID). A latched publisher (rosweb's ``latch=True``) is
  TRANSIENT_LOCAL: a Zenoh advanced publisher with a cache of its last ``LATCH_DEPTH`` messages
  and publisher detection, so late subscriptions (rosweb's, rmw_zenoh's, zenoh-ros2-sdk's) get
  them. A volatile publisher that is asked to latch becomes a latched one.
- A subscription is a Zenoh advanced subscriber with history (it asks the caches of the
  latched publishers it finds, now and when they appear), so a latched message reaches a late
  subscriber, and an ``MS`` token whose QoS is the best available for the topic's publishers
  (TRANSIENT_LOCAL when they all are), as rmw_zenoh adapts it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import zenoh
import zenoh.ext

from rosweb.errors import (
    GraphError,
    MessageError,
    NotFoundError,
    TypeMismatchError,
    UnknownTypeError,
)
from rosweb.graph.base import Callback, Handle, normalize_name
from rosweb.graph.ros2 import keys
from rosweb.graph.ros2.keys import Attachment, Qos
from rosweb.graph.ros2.node import Node
from rosweb.messages import Message

__all__ = ["LATCH_DEPTH", "MAX_PUBLISHERS", "Topics"]

log = logging.getLogger(__name__)

#: messages a latched (TRANSIENT_LOCAL) publisher keeps for late subscribers, as ROS 1's latch
LATCH_DEPTH = 1
#: topics this node may publish on at once (each one holds a Zenoh publisher and a token)
MAX_PUBLISHERS = 1000
_CDR = zenoh.Encoding("application/cdr")


@dataclass
class _Publisher:
    type: str
    latched: bool
    key: str
    zpub: Any
    entity_id: int
    gid: bytes = field(default_factory=keys.new_gid)
    sequence: int = 1
    users: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Topics:
    def __init__(self, node: Node) -> None:
        self.node = node
        self._publishers: dict[str, _Publisher] = {}
        self._subscriptions: dict[Handle, tuple[Any, int]] = {}
        self._lock = threading.Lock()
        self.decode_errors = 0
        self.callback_errors = 0

    # -- publishing -----------------------------------------------------------------------------

    def _declare(self, topic: str, type_name: str, latched: bool) -> _Publisher:
        node = self.node
        key = node.topic_key(topic, type_name)
        if latched:
            zpub: Any = zenoh.ext.declare_advanced_publisher(
                node.session, key, encoding=_CDR,
                cache=zenoh.ext.CacheConfig(LATCH_DEPTH), publisher_detection=True,
            )  # fmt: skip
            qos = Qos(reliable=True, transient_local=True, depth=LATCH_DEPTH)
        else:
            zpub = node.session.declare_publisher(key, encoding=_CDR)
            qos = Qos(reliable=True, depth=node.options.depth)
        entity_id = node.declare_entity(keys.PUBLISHER, topic, type_name, qos)
        return _Publisher(type_name, latched, key, zpub, entity_id)

    def latched_here(self, topic: str) -> bool:
        """Whether rosweb publishes ``topic`` latched (TRANSIENT_LOCAL)."""
        pub = self._publishers.get(topic)
        return pub is not None and pub.latched

    def _publisher(self, topic: str, type_name: str, latch: bool, use: int) -> _Publisher:
        types = self.node.types
        if not types.has_message(type_name):
            raise UnknownTypeError(type_name)
        type_name = types.canonical(type_name)
        with self._lock:
            pub = self._publishers.get(topic)
            if pub is not None and pub.type != type_name:
                raise _mismatch(topic, pub.type, type_name)
            if pub is None:
                self.node.check_type(topic, type_name, (keys.PUBLISHER, keys.SUBSCRIPTION))
                if len(self._publishers) >= MAX_PUBLISHERS:
                    raise GraphError(f"ros2:// publishes on {MAX_PUBLISHERS} topics already")
                pub = self._publishers[topic] = self._declare(topic, type_name, latch)
            elif latch and not pub.latched:  # becomes TRANSIENT_LOCAL: a new publisher and token
                old = pub
                pub = self._publishers[topic] = self._declare(topic, type_name, True)
                pub.users, pub.sequence = old.users, old.sequence
                self._undeclare(old)
            pub.users += use
            return pub

    def advertise(self, topic: str, type_name: str, *, latch: bool = False) -> Handle:
        topic = normalize_name(topic)
        pub = self._publisher(topic, type_name, latch, 1)
        return Handle(topic, pub.type, self._unadvertise)

    def _unadvertise(self, handle: Handle) -> None:
        with self._lock:
            pub = self._publishers.get(handle.name)
            if pub is None:
                return
            pub.users -= 1
            if pub.users > 0 or pub.latched:  # a latched message stays for late subscribers
                return
            del self._publishers[handle.name]
        self._undeclare(pub)

    def _undeclare(self, pub: _Publisher) -> None:
        self.node.undeclare_entity(pub.entity_id)
        try:
            pub.zpub.undeclare()
        except zenoh.ZError:
            log.debug("ros2://: publisher %s already undeclared", pub.key)

    def publish(self, topic: str, type_name: str, msg: Message, *, latch: bool = False) -> None:
        topic = normalize_name(topic)
        pub = self._publisher(topic, type_name, latch, 0)
        payload = self.node.codec.encode(pub.type, msg)
        with pub.lock:
            attachment = Attachment(pub.sequence, time.time_ns(), pub.gid).encode()
            pub.sequence += 1
            try:
                pub.zpub.put(payload, attachment=attachment)
            except zenoh.ZError as err:
                raise GraphError(f"ros2://: cannot publish on {topic}: {err}") from err

    def publishing(self) -> dict[str, str]:
        with self._lock:
            return {name: pub.type for name, pub in self._publishers.items()}

    # -- subscriptions --------------------------------------------------------------------------

    def subscribe(self, topic: str, callback: Callback, type_name: str | None = None) -> Handle:
        topic = normalize_name(topic)
        node = self.node
        if type_name is None:
            known = {**node.cache.topics(), **self.publishing()}
            if topic not in known:
                raise NotFoundError("topic", topic)
            type_name = known[topic]
        if not node.types.has_message(type_name):
            raise UnknownTypeError(type_name)
        type_name = node.types.canonical(type_name)
        node.check_type(topic, type_name, (keys.PUBLISHER,))
        with self._lock:
            mine = self._publishers.get(topic)
        if mine is not None and mine.type != type_name:
            raise _mismatch(topic, mine.type, type_name)
        publishers = node.cache.publishers(topic)
        latched = bool(publishers) and all(p.qos.transient_local for p in publishers)
        handle = Handle(topic, type_name, self._unsubscribe)

        def on_sample(sample: zenoh.Sample) -> None:
            self._deliver(topic, type_name, callback, sample)

        zsub = zenoh.ext.declare_advanced_subscriber(
            node.session, node.topic_key(topic, type_name), on_sample,
            history=zenoh.ext.HistoryConfig(
                detect_late_publishers=True, max_samples=node.options.depth
            ),
        )  # fmt: skip
        qos = Qos(reliable=True, transient_local=latched, depth=node.options.depth)
        entity_id = node.declare_entity(keys.SUBSCRIPTION, topic, type_name, qos)
        with self._lock:
            self._subscriptions[handle] = (zsub, entity_id)
        return handle

    def _deliver(
        self, topic: str, type_name: str, callback: Callback, sample: zenoh.Sample
    ) -> None:
        try:
            msg = self.node.codec.decode(type_name, sample.payload.to_bytes())
        except MessageError as err:
            self.decode_errors += 1
            log.warning("ros2://: dropped a message on %s: %s", topic, err)
            return
        try:
            callback(msg)
        except Exception:
            self.callback_errors += 1
            log.exception("ros2://: subscriber callback of %s failed", topic)

    def _unsubscribe(self, handle: Handle) -> None:
        with self._lock:
            entry = self._subscriptions.pop(handle, None)
        if entry is None:
            return
        zsub, entity_id = entry
        self.node.undeclare_entity(entity_id)
        try:
            zsub.undeclare()
        except zenoh.ZError:
            log.debug("ros2://: subscription of %s already undeclared", handle.name)

    def close(self) -> None:
        with self._lock:
            self._publishers.clear()
            self._subscriptions.clear()


def _mismatch(topic: str, have: str, asked: str) -> TypeMismatchError:
    return TypeMismatchError(f"topic {topic} has type {have}, not {asked}")
