"""rosweb's connection of a rospy publisher to one subscriber: rospy's queue, with two changes.

rospy's ``QueuedConnection`` (``rospy.impl.tcpros_pubsub``) queues each message for a thread of
the connection that sends it, and yields the rest of the publishing thread's time after each
one (``time.sleep(0)``). rosweb's subclass keeps the queue, its bound (the oldest dropped past
``queue_size``) and its thread, and changes two things:

- **No yield per message.** The publishing thread goes on and the connection's thread sends
  what accumulated in one go, in order: about 55 us a message saved in a burst (bench/README.md).
- **A direct send when nothing waits.** A message published at least :data:`DIRECT_GAP` after
  the one before, while the queue is empty and the connection's thread is not sending, is sent
  at once from the publishing thread with one non-blocking ``send``: the hand-off to the
  connection's thread (about 0.1 ms on a 2-core machine, a sixth of a publish's way out of
  rosweb) is spared for a robot's usual traffic, a message now and then. A burst still goes
  through the queue: a send per message from the publishing thread cost a flood a quarter of
  its throughput against the thread's batches. What the socket does not take at once (a slow
  subscriber, a full socket buffer) goes to the queue, in front of anything queued since, for
  the thread to send as before: a publisher never blocks on a subscriber, and the order of
  messages is kept. An error of the socket is left to the thread too: it meets it sending what
  was not sent, and closes the connection as rospy does.

rospy has no option for either: its publishers take the class from ``rospy.topics``, replaced by
:func:`install` (this process's node only; done once, before any publisher exists).
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

__all__ = ["DIRECT_GAP", "install"]

log = logging.getLogger(__name__)

#: a message published this long (s) after the one before is sent directly if nothing waits;
#: closer ones (a burst) go through the queue, where the connection's thread sends them together
DIRECT_GAP = 0.001

_DONTWAIT: int | None = getattr(socket, "MSG_DONTWAIT", None)  # none on Windows: always queued


def install() -> None:
    """Make rospy's queued publishers use rosweb's connection class (once; skipped, with a
    warning, when rospy's class is not the one this was written against)."""
    from rospy import topics
    from rospy.impl.tcpros_pubsub import QueuedConnection

    if getattr(topics.QueuedConnection, "rosweb", False):
        return
    if topics.QueuedConnection is not QueuedConnection or not hasattr(QueuedConnection, "_run"):
        log.warning("rospy's QueuedConnection is not the expected one: publishing as it does")
        return
    topics.QueuedConnection = _subclass(QueuedConnection)


def _subclass(base: type) -> type:
    class Queued(base):  # type: ignore[misc]
        rosweb = True
        _queue: list[bytes]  # rospy's, set by its __init__
        _error: BaseException | None
        _sending = False  # the connection's thread, or a direct send, is writing the socket
        _last = 0.0  # when the last message was published (time.monotonic())
        _partial = False  # the queue starts with the rest of a message partly sent: kept whole

        def write_data(self, data: bytes) -> bool:
            with self._lock:
                error = self._error
                if error is not None:  # an error of the connection's thread, raised as rospy does
                    self._error = None
                    raise error
                now = time.monotonic()
                direct = not self._queue and not self._sending and now - self._last >= DIRECT_GAP
                self._last = now
                if direct:
                    self._sending = True
                else:
                    rest = int(self._partial)  # a rest is never dropped: the stream needs it
                    if self._queue_size > 0 and len(self._queue) - rest >= self._queue_size:
                        del self._queue[rest]
                    self._queue.append(data)
                    self._cond_data_available.notify()
            if direct:
                self._send_now(data)
            return True

        def _send_now(self, data: bytes) -> None:
            sent = 0
            try:
                sent = self._try_send(data)
            finally:  # whatever happened, the connection's thread sends what was not sent
                with self._lock:
                    self._sending = False
                    if sent < len(data):  # the rest goes first
                        self._queue.insert(0, data[sent:])
                        self._partial = sent > 0
                    if self._queue:  # the rest, or what was published meanwhile
                        self._cond_data_available.notify()

        def _try_send(self, data: bytes) -> int:
            connection: Any = self._connection
            sock = connection.socket
            if _DONTWAIT is None or sock is None or connection.done:
                return 0
            if sock.gettimeout() is not None:  # a send with a timeout could wait: queued
                return 0
            try:
                sent: int = sock.send(data, _DONTWAIT)
            except OSError:  # full, or broken: the connection's thread finds out which
                return 0
            if sent == len(data):
                connection.stat_bytes += sent
                connection.stat_num_msg += 1
            return sent

        def _run(self) -> None:  # rospy's loop, telling write_data while it sends
            while not self._connection.done:
                with self._lock:
                    while (not self._queue or self._sending) and not self._connection.done:
                        self._cond_data_available.wait()
                    queue, self._queue = self._queue, []
                    self._sending, self._partial = bool(queue), False
                for data in queue:
                    try:
                        self._connection.write_data(data)
                    except Exception as err:
                        with self._lock:
                            self._error = err
                with self._lock:
                    self._sending = False

    return Queued
