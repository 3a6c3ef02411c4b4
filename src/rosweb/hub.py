"""Fan-out from one backend subscription to many consumers.

However many web clients watch a topic, the backend sees one subscription. Each message becomes an
:class:`Envelope` whose JSON text is made at most once, on first demand, and shared by every
consumer. Each consumer has its own bounded queue that drops the oldest message when full, and an
optional throttle (minimum interval between delivered messages), so a slow client loses its own
old messages and never slows the robot or other clients.

The backend callback does O(consumers) appends and returns: it never blocks.
"""

from __future__ import annotations

import collections
import fnmatch
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from rosweb.errors import RosWebError, TypeMismatchError
from rosweb.graph import Graph, Handle, normalize_name
from rosweb.messages import Message, to_json
from rosweb.stats import TopicStats

__all__ = ["Consumer", "Envelope", "Hub"]

log = logging.getLogger(__name__)


class Envelope:
    """One received message, with its JSON text made once and cached."""

    __slots__ = ("_encoded", "_json", "_lock", "msg", "received", "topic", "type")

    def __init__(self, topic: str, type_name: str, msg: Message) -> None:
        self.topic = topic
        self.type = type_name
        self.msg = msg
        self.received = time.time()
        self._json: str | None = None
        self._encoded: dict[Any, Any] = {}
        self._lock = threading.RLock()  # encoders may read .json under it

    @property
    def json(self) -> str:
        """The message as JSON text (computed once for all consumers)."""
        text = self._json
        if text is None:
            with self._lock:
                if self._json is None:
                    self._json = to_json(self.msg)
                text = self._json
        return text

    def encoded(self, key: Any, encode: Callable[[Envelope], Any]) -> Any:
        """``encode(self)``, made once per ``key`` and shared (a wire frame per encoding)."""
        try:
            return self._encoded[key]
        except KeyError:
            pass
        with self._lock:
            if key not in self._encoded:
                self._encoded[key] = encode(self)
            return self._encoded[key]


class Consumer:
    """A bounded, drop-oldest queue of envelopes for one client of one topic.

    ``notify`` (if given) is called on the middleware thread after each enqueue; it must not
    block (an event loop's ``call_soon_threadsafe`` is the intended use).
    """

    def __init__(
        self,
        hub: Hub,
        topic: str,
        type_name: str,
        queue_length: int = 1,
        throttle_rate: float = 0.0,
        notify: Callable[[Consumer], None] | None = None,
    ) -> None:
        self.topic = topic
        self.type = type_name
        self.throttle = max(0.0, throttle_rate) / 1000.0
        self.dropped = 0
        self._hub = hub
        self._queue: collections.deque[Envelope] = collections.deque(maxlen=max(1, queue_length))
        self._ready = threading.Condition()
        self._notify = notify
        self._last = -math.inf
        self.closed = False

    def offer(self, envelope: Envelope) -> None:
        now = time.monotonic()
        if self.throttle and now - self._last < self.throttle:
            return
        self._last = now
        with self._ready:
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1
            self._queue.append(envelope)
            self._ready.notify()
        if self._notify is not None:
            self._notify(self)

    def resize(self, queue_length: int) -> None:
        """Change the queue's bound, keeping the newest envelopes."""
        with self._ready:
            if self._queue.maxlen != max(1, queue_length):
                self._queue = collections.deque(self._queue, maxlen=max(1, queue_length))

    def get(self, timeout: float | None = None) -> Envelope | None:
        """The oldest queued envelope, waiting up to ``timeout`` s; None on timeout or close."""
        with self._ready:
            if not self._queue and not self.closed:
                self._ready.wait(timeout)
            return self._queue.popleft() if self._queue else None

    def drain(self) -> list[Envelope]:
        """Every queued envelope, without waiting."""
        with self._ready:
            items = list(self._queue)
            self._queue.clear()
            return items

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with self._ready:
            self._ready.notify_all()
        self._hub._remove(self)

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
        self.stats = TopicStats(graph.types)  # rates and bandwidth per topic (rosweb.stats)
        self._feeds: dict[str, _Feed] = {}
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
            and type_name not in HEAVY_TYPES
            and any(fnmatch.fnmatchcase(topic, pattern) for pattern in self.cache_topics)
        ]
        added = []
        for topic, type_name in new:
            with self._lock:
                if self._closed.is_set() or topic in self._feeds:
                    continue
                try:
                    feed = self._feed(topic, type_name)
                except RosWebError as err:
                    log.debug("cannot cache %s: %s", topic, err)
                    continue
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

    def _feed(self, topic: str, type_name: str | None) -> _Feed:
        """The topic's feed, subscribing the backend on first use; caller holds the lock."""
        feed = self._feeds.get(topic)
        if feed is None:
            feed = _Feed(type_name or "")

            def on_message(msg: Message) -> None:
                self._dispatch(topic, feed, msg)

            handle = self.graph.subscribe(topic, on_message, type_name)
            feed.type = handle.type
            feed.handle = handle
            self._feeds[topic] = feed
        elif type_name and type_name != feed.type:
            raise TypeMismatchError(f"topic {topic} has type {feed.type}, not {type_name}")
        return feed

    def _dispatch(self, topic: str, feed: _Feed, msg: Message) -> None:
        self.stats.record(topic, feed.type, msg)
        envelope = Envelope(topic, feed.type, msg)
        with feed.arrived:
            feed.latest = envelope
            feed.arrived.notify_all()
        for consumer in list(feed.consumers):
            consumer.offer(envelope)

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
        with self._lock:
            feed = self._feed(topic, type_name)
            consumer = Consumer(self, topic, feed.type, queue_length, throttle_rate, notify)
            feed.consumers.append(consumer)
        return consumer

    def latest(self, topic: str, timeout: float = 0.0) -> Envelope | None:
        """The last message on ``topic``, waiting up to ``timeout`` s for a first one.

        The first call subscribes the topic and keeps it subscribed for later calls.
        """
        topic = normalize_name(topic)
        with self._lock:
            feed = self._feed(topic, None)
            feed.cached = True
            feed.last_read = time.monotonic()
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
