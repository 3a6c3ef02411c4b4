"""A caller's subscription to a topic: a callback on a thread of its own, or an iterator.

Both read a bounded hub :class:`~rosweb.hub.Consumer` (``queue_length`` messages, the oldest
dropped when the reader is slower than the topic): a slow callback never slows the middleware or
other subscribers. An exception in a callback is logged with the topic and counted in
:attr:`Subscription.errors`; the feed goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

from rosweb.hub import Consumer, Envelope

__all__ = ["Subscription"]

log = logging.getLogger(__name__)


class Subscription:
    """Close it (or use it as a context manager) to unsubscribe."""

    def __init__(self, consumer: Consumer, callback: Callable[[Envelope], None] | None) -> None:
        self._consumer = consumer
        self.topic = consumer.topic
        self.type = consumer.type
        self.errors = 0  #: exceptions the callback raised
        self._thread: threading.Thread | None = None
        if callback is not None:
            self._thread = threading.Thread(
                target=self._run, args=(callback,), name=f"rosweb-sub{self.topic}", daemon=True
            )
            self._thread.start()

    def _run(self, callback: Callable[[Envelope], None]) -> None:
        while not self._consumer.closed:
            envelope = self._consumer.get(timeout=1.0)
            if envelope is None:
                continue
            try:
                callback(envelope)
            except Exception:
                self.errors += 1
                log.exception("subscriber of %s failed (the feed goes on)", self.topic)

    def get(self, timeout: float | None = None) -> Envelope | None:
        """The next message, waiting up to ``timeout`` s (None: forever); None if none came."""
        return self._consumer.get(timeout=timeout)

    def __iter__(self) -> Iterator[Envelope]:
        while not self._consumer.closed:
            envelope = self._consumer.get(timeout=1.0)
            if envelope is not None:
                yield envelope

    @property
    def closed(self) -> bool:
        return self._consumer.closed

    def close(self) -> None:
        self._consumer.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
