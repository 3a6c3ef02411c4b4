"""What the hub hands out: an :class:`Envelope` per message (its JSON and wire frames made once
for every consumer) and a :class:`Consumer` per reader (a bounded, drop-oldest queue)."""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from rosweb.messages import Message, to_json

__all__ = ["Consumer", "Envelope"]


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
        on_close: Callable[[Consumer], None],
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
        self._on_close = on_close
        self._queue: collections.deque[Envelope] = collections.deque(maxlen=max(1, queue_length))
        self._ready = threading.Condition()
        self._notify = notify
        self._last = -math.inf
        self._last_offered: Envelope | None = None
        #: the feed's latest message when this consumer joined it (a latched one is replayed)
        self.joined_at: Envelope | None = None
        self.closed = False

    def offer(self, envelope: Envelope) -> None:
        if envelope is self._last_offered:  # the latched replay raced the live delivery
            return
        self._last_offered = envelope
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

    def newest(self) -> Envelope | None:
        """The last queued envelope, left in the queue (None when empty)."""
        try:
            return self._queue[-1]
        except IndexError:
            return None

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
        self._on_close(self)

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
