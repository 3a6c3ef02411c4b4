"""The loop's side of rosbridge connections' writes: which thread writes, and one wake-up for
every connection woken at once (see :mod:`rosweb.server.bridge`)."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Protocol

import tornado.ioloop

from rosweb.hub import dispatch_width

__all__ = ["DIRECT_FANOUT", "DIRECT_WRITES", "Flushable", "Flushes", "flushes_of"]

log = logging.getLogger(__name__)

#: a thread other than the loop's (a middleware's, a call's) writes a connection's frames itself
#: (:meth:`~rosweb.server.bridge.BridgeWebSocket._send_here`) for a message going to at most this
#: many clients, and at most :data:`DIRECT_WRITES` times per millisecond; the loop writes the
#: rest (a wide or fast fan-out, where one loop turn serves many clients and joins many frames
#: into one send), so that thread goes back to receiving
DIRECT_FANOUT = 4
DIRECT_WRITES = 8


class Flushable(Protocol):
    """A connection: writes what it has ready, on the loop."""

    def _flush(self) -> None: ...


class Flushes:
    """The connections of one loop with frames ready, flushed by one callback: a message for N
    clients wakes the loop once (one ``call_soon_threadsafe``, one write to its self-pipe and
    one callback), not N times. In the order they became ready. Made on the loop's thread."""

    def __init__(self, loop: tornado.ioloop.IOLoop) -> None:
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._lock = threading.Lock()
        self._ready: list[Flushable] = []
        self._budget = threading.local()  # per thread: direct writes left until a time

    def may_send_here(self) -> bool:
        """Whether the calling thread may write a connection's socket itself: not the loop's
        thread, a message for at most :data:`DIRECT_FANOUT` clients, and fewer than
        :data:`DIRECT_WRITES` times in this millisecond."""
        if threading.get_ident() == self._loop_thread or dispatch_width() > DIRECT_FANOUT:
            return False
        budget = self._budget
        now = time.monotonic()
        if now >= getattr(budget, "until", 0.0):
            budget.until = now + 0.001
            budget.left = DIRECT_WRITES
        if budget.left <= 0:
            return False
        budget.left -= 1
        return True

    def add(self, handler: Flushable) -> None:
        """From any thread: flush ``handler`` at the loop's next turn."""
        with self._lock:
            self._ready.append(handler)
            if len(self._ready) > 1:
                return  # a callback is scheduled and has not taken the list yet
        self._loop.add_callback(self._run)

    def _run(self) -> None:
        with self._lock:
            ready, self._ready = self._ready, []
        for handler in ready:
            try:
                handler._flush()
            except Exception:  # one connection's bug must not leave the others unflushed
                log.exception("flushing a rosbridge connection failed")


_flushes: weakref.WeakKeyDictionary[tornado.ioloop.IOLoop, Flushes] = weakref.WeakKeyDictionary()


def flushes_of(loop: tornado.ioloop.IOLoop) -> Flushes:
    """The :class:`Flushes` of ``loop`` (made on its thread, at a connection's start)."""
    found = _flushes.get(loop)
    if found is None:
        found = _flushes[loop] = Flushes(loop)
    return found
