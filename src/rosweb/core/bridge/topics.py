"""rosbridge ops on topics: advertise, unadvertise, publish, subscribe, unsubscribe.

Topic data comes from the hub through the caller's :class:`~rosweb.core.guard.GuardedRobot` (one
backend subscription per topic for every session; one encoding per message and compression for
every session); each subscription has its own bounded drop-oldest queue.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rosweb.core.bridge.base import SessionBase, Subscription
from rosweb.core.bridge.fields import COMPRESSIONS, OpError, field, required
from rosweb.core.bridge.frames import Frame, encode
from rosweb.errors import NotFoundError, ValidationError
from rosweb.graph import normalize_name
from rosweb.hub import Envelope
from rosweb.messages import TypeStore, to_ros1

__all__ = ["TopicOps", "publish_frame"]


def publish_frame(store: TypeStore, topic: str, compression: str) -> Callable[[Envelope], Frame]:
    """How one topic's messages look on the wire in one compression (made once per message)."""

    def as_json(envelope: Envelope) -> Frame:
        return f'{{"op":"publish","topic":{json.dumps(topic)},"msg":{envelope.json}}}'

    def as_cbor(envelope: Envelope) -> Frame:
        return encode({"op": "publish", "topic": topic, "msg": envelope.msg}, "cbor")

    def as_cbor_raw(envelope: Envelope) -> Frame:  # the ROS 1 serialization, as rosbridge does
        secs = int(envelope.received)
        raw = {
            "secs": secs,
            "nsecs": int((envelope.received - secs) * 1e9),
            "bytes": to_ros1(store, envelope.type, envelope.msg),
        }
        return encode({"op": "publish", "topic": topic, "msg": raw}, "cbor")

    return {"none": as_json, "cbor": as_cbor, "cbor-raw": as_cbor_raw}[compression]


class TopicOps(SessionBase):
    """The topic ops of a :class:`~rosweb.core.bridge.session.BridgeSession`."""

    def _advertise(self, msg: dict[str, Any]) -> None:
        topic = normalize_name(required(msg, "topic"))
        type_name = required(msg, "type")
        latch = field(msg, "latch", bool, False)
        with self._lock:
            existing = self._publishers.get(topic)
        if existing is not None:
            if existing.type != type_name:
                raise OpError(f"{topic} is advertised with type {existing.type}", "type")
            return
        if not self._act().types.has_message(type_name):
            raise OpError(f"unknown message type {type_name!r}", "type")
        handle = self._act().advertise(topic, type_name, latch=latch)
        with self._lock:
            self._publishers[topic] = handle
            if latch:
                self._latched.add(topic)

    def _unadvertise(self, msg: dict[str, Any]) -> None:
        topic = normalize_name(required(msg, "topic"))
        with self._lock:
            handle = self._publishers.pop(topic, None)
            self._latched.discard(topic)
        if handle is None:
            raise OpError(f"{topic} is not advertised by this client", "topic")
        handle.close()

    def _publish(self, msg: dict[str, Any]) -> None:
        topic = normalize_name(required(msg, "topic"))
        latch = field(msg, "latch", bool, False)
        self._act().write("topic", topic)
        with self._lock:
            handle = self._publishers.get(topic)
        if handle is None:
            try:
                type_name = self._act().topic_type(topic)
            except NotFoundError:
                raise OpError(
                    f"cannot infer the type of {topic}: advertise it first", "topic"
                ) from None
            self._advertise({"topic": topic, "type": type_name, "latch": latch})
        else:
            type_name = handle.type
        latch = latch or topic in self._latched
        try:  # validated once, by the guard
            self._act().publish(topic, msg.get("msg"), type_name, latch=latch)
        except ValidationError as err:
            if err.field in ("type", "topic"):
                raise
            where = f"msg.{err.field}" if err.field else "msg"
            raise OpError(f"to {topic}: field {where} {err.reason}", where) from None

    def _subscribe(self, msg: dict[str, Any]) -> None:
        topic = normalize_name(required(msg, "topic"))
        type_name = field(msg, "type", str)
        sid = field(msg, "id", (str, int))
        throttle = field(msg, "throttle_rate", (int, float), 0)
        queue_length = field(msg, "queue_length", int, self.options.queue_length)
        fragment_size = field(msg, "fragment_size", int)
        compression = field(msg, "compression", str, "none")
        if compression not in COMPRESSIONS:
            raise OpError(
                f"compression {compression!r} is not one of {COMPRESSIONS}", "compression"
            )
        self._act().see("topic", topic)
        if throttle < 0 or queue_length < 0 or (fragment_size is not None and fragment_size < 1):
            raise OpError("throttle_rate, queue_length and fragment_size must be positive")
        params = {
            "throttle_rate": throttle,
            "queue_length": min(max(queue_length, 1), self.options.max_queue_length),
            "fragment_size": fragment_size,
            "compression": compression,
        }
        with self._lock:
            subscription = self._subscriptions.get(topic)
        if subscription is None:
            consumer = self._act().consume(
                topic, type_name or None, queue_length=params["queue_length"],
                throttle_rate=throttle, notify=self._notify,
            )  # fmt: skip
            subscription = Subscription(consumer, required(msg, "topic"))
            with self._lock:
                self._subscriptions[topic] = subscription
                self._turn.append(topic)
        elif type_name and type_name != subscription.consumer.type:
            raise OpError(f"{topic} has type {subscription.consumer.type}", "type")
        with self._lock:
            subscription.sids[sid] = params
            self._merge(subscription)
        self._wake()

    def _merge(self, subscription: Subscription) -> None:
        """Several subscriptions to one topic share one stream, as in rosbridge: the smallest
        throttle and fragment size, the largest queue, CBOR if any asks for it."""
        params = list(subscription.sids.values())
        consumer = subscription.consumer
        consumer.throttle = min(p["throttle_rate"] for p in params) / 1000.0
        consumer.resize(max(p["queue_length"] for p in params))
        sizes = [p["fragment_size"] for p in params if p["fragment_size"]]
        subscription.fragment_size = min(sizes) if sizes else None
        asked = {p["compression"] for p in params}
        subscription.compression = next(
            (c for c in ("cbor-raw", "cbor") if c in asked), "none"
        )  # binary if any subscription asked for it, as rosbridge

    def _unsubscribe(self, msg: dict[str, Any]) -> None:
        topic = normalize_name(required(msg, "topic"))
        sid = field(msg, "id", (str, int))
        with self._lock:
            subscription = self._subscriptions.get(topic)
            if subscription is None:
                return  # rosbridge ignores unsubscribing what is not subscribed
            if sid is not None and sid not in subscription.sids:
                return  # as rosbridge: only the subscription with this id is cancelled
            if sid is not None and len(subscription.sids) > 1:
                del subscription.sids[sid]
                self._merge(subscription)
                return
            del self._subscriptions[topic]
            self._turn.remove(topic)
        subscription.consumer.close()
