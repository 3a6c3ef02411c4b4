"""The event-loop rule: nothing that may block runs on Tornado's loop thread.

A backend call may block for seconds (a ROS master stopped with SIGSTOP, an agent that went
away, a router): native handlers hand every core call to an executor through this module, and
the loop only moves bytes. :class:`Serial` keeps the order of one connection's work (rosbridge
ops of one client run one after the other, as the client sent them) while other connections go
on; its queue is bounded (:data:`MAX_PENDING`), past which the connection is told to slow down.
What a connection sent before it closed is still done, then its session is closed; for at
most :data:`CLOSE_GRACE` seconds, so a backend that stopped answering cannot hold that close.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

__all__ = ["CLOSE_GRACE", "MAX_PENDING", "Serial", "off_loop"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: frames of one connection waiting for their turn; past that, new ones are refused
MAX_PENDING = 1000
#: seconds a closed connection's waiting work may still take; what waits then is dropped
CLOSE_GRACE = 2.0


async def off_loop(executor: Executor, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on ``executor``, awaited without blocking the loop."""
    return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)


class Serial:
    """Runs one connection's work on a shared executor, one item at a time, in order."""

    def __init__(
        self, executor: Executor, limit: int = MAX_PENDING, grace: float = CLOSE_GRACE
    ) -> None:
        self._executor = executor
        self._limit = limit
        self._grace = grace
        self._deadline = 0.0  # once finished: when what still waits is dropped
        self._queue: collections.deque[tuple[Callable[..., Any], tuple[Any, ...]]] = (
            collections.deque()
        )
        self._running = False
        self._closed = False
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Queue ``fn(*args)``; False (nothing queued) when the queue is full or closed."""
        with self._lock:
            if self._closed or len(self._queue) >= self._limit:
                return False
            self._queue.append((fn, args))
        return self._start()

    def _start(self) -> bool:
        with self._lock:
            if self._running:
                return True
            self._running = True
        try:
            self._executor.submit(self._drain)
        except RuntimeError:  # the executor shut down: the server is stopping
            with self._lock:
                self._running = False
                self._queue.clear()
            return False
        return True

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._running = False
                    return
                dropped = self._overdue()
                fn, args = self._queue.popleft()
            if dropped:
                log.warning(
                    "a closed connection's last %d frames were dropped: the backend "
                    "took more than %.1f s for the ones before",
                    dropped,
                    self._grace,
                )
            try:
                fn(*args)
            except Exception:
                log.exception("work of a connection failed")

    def _overdue(self) -> int:
        """Under the lock: past the close's deadline, drop what waits but the last word."""
        if not self._closed or len(self._queue) < 2 or time.monotonic() < self._deadline:
            return 0
        last = self._queue.pop()
        dropped = len(self._queue)
        self._queue.clear()
        self._queue.append(last)
        return dropped

    @property
    def pending(self) -> int:
        return len(self._queue)

    def finish(self, fn: Callable[..., Any], *args: Any) -> None:
        """Refuse new work and run ``fn(*args)`` (the connection's last word: closing its
        session) after what waits: a client that sends and closes at once (a script that
        publishes and exits) loses nothing. What still waits :data:`CLOSE_GRACE` seconds from
        now is dropped, so the last word comes. Runs it here if the executor is gone."""
        with self._lock:
            self._closed = True
            self._deadline = time.monotonic() + self._grace
            self._queue.append((fn, args))
        if not self._start():
            fn(*args)
