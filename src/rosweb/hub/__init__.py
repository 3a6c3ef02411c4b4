"""Fan-out from one backend subscription to many consumers.

However many web clients watch a topic, the backend sees one subscription. Each message becomes an
:class:`Envelope` whose JSON text is made at most once, on first demand, and shared by every
consumer. Each consumer has its own bounded queue that drops the oldest message when full, and an
optional throttle (minimum interval between delivered messages), so a slow client loses its own
old messages and never slows the robot or other clients.

The backend callback does O(consumers) appends and returns: it never blocks.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from rosweb.errors import RosWebError, TypeMismatchError
from rosweb.graph import Graph, Handle, normalize_name
from rosweb.hub.queues import Consumer, Envelope
from rosweb.hub.stats import TopicStats
from rosweb.messages import Message

__all__ = ["Consumer", "Envelope", "Hub", "dispatch_width"]

log = logging.getLogger(__name__)

_dispatching = threading.local()


def dispatch_width() -> int:
    """How many consumers the message being dispatched on the calling thread goes to (0 outside
    a dispatch). A consumer's ``notify`` may do a little work on this thread for a message few
    consumers take (a transport writing one client's socket at once), and leave a wide fan-out
    to its own thread."""
    width: int = getattr(_dispatching, "width", 0)
    return width


class _Feed:
    """The hub's state for one topic: the backend subscription, consumers and latest message."""

    def __init__(self, type_name: str) -> None:
        self.type = type_name
        self.handle: Handle | None = None
        self.consumers: list[Consumer] = []
        self.latest: Envelope | None = None
        self.cached = False  # someone asked for the latest message: keep the subscription...
        self.last_read = 0.0  # ...until nobody has asked for cache_ttl seconds...
        self.pinned = False  # ...unless cached for good (see Hub.cache_topics)
        self.arrived = threading.Condition()


#: types not cached unless asked for: large, fast, and rarely read as "the latest value"
HEAVY_TYPES = (
    "sensor_msgs/Image",
    "sensor_msgs/CompressedImage",
    "sensor_msgs/PointCloud",
    "sensor_msgs/PointCloud2",
)


class Hub:
    """One backend subscription per topic, a latest-message cache, per-consumer queues.

    Topics matching ``cache_topics`` (globs; not of ``HEAVY_TYPES``) are cached as soon as they
    appear in the graph and for good, so the latest message of a short-lived publisher
    (``rostopic pub -1``) is still there after it left. Any other topic subscribed only for
    :meth:`latest` is unsubscribed after ``cache_ttl`` seconds without a read, so one look at a
    camera does not keep its bandwidth flowing forever.
    """

    def __init__(
        self,
        graph: Graph,
        *,
        cache_ttl: float = 60.0,
        cache_topics: Sequence[str] = (),
        scan_interval: float = 1.0,
    ) -> None:
        self.graph = graph
        self.cache_ttl = cache_ttl
        self.cache_topics = tuple(cache_topics)
        self.scan_interval = scan_interval
        self.stats = TopicStats(graph.types)  # rates and bandwidth per topic (rosweb.hub.stats)
        self._feeds: dict[str, _Feed] = {}
        #: topics being subscribed right now (the backend may block: a master, an agent, a
        #: router): waiters for the same topic wait on its event, nobody else waits at all
        self._subscribing: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep, name="rosweb-hub-sweep", daemon=True)
        self._sweeper.start()

    def _sweep(self) -> None:
        last_expiry = time.monotonic()
        while True:
            try:
                self.cache_new_topics()
            except RosWebError as err:  # the middleware is down: the next scan tries again
                log.debug("cannot list topics to cache: %s", err)
            except Exception:
                log.exception("caching new topics failed")
            if time.monotonic() - last_expiry > min(10.0, self.cache_ttl / 2):
                last_expiry = time.monotonic()
                self.expire()
            if self._closed.wait(self.scan_interval):
                return

    def cache_new_topics(self) -> list[str]:
        """Subscribe (for good) the graph's topics that match ``cache_topics``; returns them."""
        if not self.cache_topics:
            return []
        own = self.graph.costly_self_subscriptions()
        new = [
            (topic, type_name)
            for topic, type_name in self.graph.topics().items()
            if topic not in self._feeds
            and topic not in own
            and type_name
            and type_name.replace("/msg/", "/") not in HEAVY_TYPES  # ROS 2: pkg/msg/Name
            and any(fnmatch.fnmatchcase(topic, pattern) for pattern in self.cache_topics)
        ]
        added = []
        for topic, type_name in new:
            if self._closed.is_set() or topic in self._feeds:
                continue
            try:
                feed = self._feed(topic, type_name)
            except RosWebError as err:
                log.debug("cannot cache %s: %s", topic, err)
                continue
            with self._lock:
                feed.cached = feed.pinned = True
            added.append(topic)
        return added

    def expire(self) -> list[str]:
        """Unsubscribe cache-only feeds unread for ``cache_ttl`` s; returns their topics."""
        now = time.monotonic()
        with self._lock:
            stale = [
                (topic, feed)
                for topic, feed in self._feeds.items()
                if feed.cached
                and not feed.pinned
                and not feed.consumers
                and now - feed.last_read > self.cache_ttl
            ]
            for topic, _ in stale:
                del self._feeds[topic]
        for _, feed in stale:
            if feed.handle is not None:
                feed.handle.close()
        return [topic for topic, _ in stale]

    def _feed(
        self,
        topic: str,
        type_name: str | None,
        *,
        consumer: Consumer | None = None,
        read: bool = False,
    ) -> _Feed:
        """The topic's feed, subscribing the backend on first use outside the hub's lock (a
        backend call may block: nobody else waits for it but callers of the same topic);
        ``consumer`` is added and ``read`` marks a cache read under the lock, so the feed
        cannot be dropped in between."""
        while True:
            with self._lock:
                if self._closed.is_set():
                    raise RosWebError("the hub is closed")
                feed = self._feeds.get(topic)
                if feed is not None:
                    if type_name and type_name != feed.type:
                        raise TypeMismatchError(
                            f"topic {topic} has type {feed.type}, not {type_name}"
                        )
                    if consumer is not None:
                        consumer.type = feed.type
                        consumer.joined_at = feed.latest
                        feed.consumers.append(consumer)
                    if read:
                        feed.cached = True
                        feed.last_read = time.monotonic()
                    return feed
                busy = self._subscribing.get(topic)
                mine = busy is None
                if busy is None:
                    busy = self._subscribing[topic] = threading.Event()
            if not mine:
                busy.wait()  # another thread subscribes this topic: then take its feed
                continue
            self._subscribe(topic, type_name, busy)

    def _subscribe(self, topic: str, type_name: str | None, busy: threading.Event) -> None:
        fresh = _Feed(type_name or "")

        def on_message(msg: Message) -> None:
            self._dispatch(topic, fresh, msg)

        try:
            handle = self.graph.subscribe(topic, on_message, type_name)
        except BaseException:
            with self._lock:
                del self._subscribing[topic]
            busy.set()
            raise
        fresh.type = handle.type
        fresh.handle = handle
        with self._lock:
            del self._subscribing[topic]
            closed = self._closed.is_set()
            if not closed:
                self._feeds[topic] = fresh
        busy.set()
        if closed:
            handle.close()

    def _dispatch(self, topic: str, feed: _Feed, msg: Message) -> None:
        self.stats.record(topic, feed.type, msg)
        envelope = Envelope(topic, feed.type, msg)
        with feed.arrived:
            feed.latest = envelope
            feed.arrived.notify_all()
        consumers = list(feed.consumers)
        outer = dispatch_width()  # a consumer may publish, and dispatch on this thread again
        _dispatching.width = len(consumers)
        try:
            for consumer in consumers:
                consumer.offer(envelope)
        finally:
            _dispatching.width = outer

    def consume(
        self,
        topic: str,
        type_name: str | None = None,
        *,
        queue_length: int = 1,
        throttle_rate: float = 0.0,
        notify: Callable[[Consumer], None] | None = None,
    ) -> Consumer:
        """A new consumer of ``topic``; close it when done."""
        topic = normalize_name(topic)
        consumer = Consumer(
            self._remove, topic, type_name or "", queue_length, throttle_rate, notify
        )
        self._feed(topic, type_name, consumer=consumer)
        seen = consumer.joined_at
        if seen is not None:
            try:
                latched = self.graph.latched(topic)
            except RosWebError:
                latched = False
            if latched:  # a late subscriber of a latched topic gets its last message too
                consumer.offer(seen)
        return consumer

    def latest(self, topic: str, timeout: float = 0.0) -> Envelope | None:
        """The last message on ``topic``, waiting up to ``timeout`` s for a first one.

        The first call subscribes the topic and keeps it subscribed for later calls.
        """
        topic = normalize_name(topic)
        feed = self._feed(topic, None, read=True)
        deadline = time.monotonic() + timeout
        with feed.arrived:
            while feed.latest is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not feed.arrived.wait(remaining):
                    break
            return feed.latest

    def cached(self, topic: str) -> bool:
        """Whether the hub holds a message of ``topic`` (it may have left the graph)."""
        feed = self._feeds.get(normalize_name(topic))
        return feed is not None and feed.latest is not None

    def feeds(self) -> dict[str, dict[str, Any]]:
        """Per topic: type, number of consumers, whether cached (for health and debugging)."""
        with self._lock:
            return {
                topic: {"type": feed.type, "consumers": len(feed.consumers), "cached": feed.cached}
                for topic, feed in self._feeds.items()
            }

    def _remove(self, consumer: Consumer) -> None:
        with self._lock:
            feed = self._feeds.get(consumer.topic)
            if feed is None or consumer not in feed.consumers:
                return
            feed.consumers.remove(consumer)
            if (
                feed.consumers
                or feed.pinned
                or (feed.cached and time.monotonic() - feed.last_read <= self.cache_ttl)
            ):
                return
            del self._feeds[consumer.topic]
        if feed.handle is not None:
            feed.handle.close()

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            feeds = list(self._feeds.values())
            self._feeds.clear()
        for feed in feeds:
            for consumer in feed.consumers:
                consumer.closed = True
                with consumer._ready:
                    consumer._ready.notify_all()
            if feed.handle is not None:
                feed.handle.close()
