"""A client's calls made from the caller's own thread, over a small pool of ZeroMQ sockets.

A call through the client's I/O thread costs two thread hand-offs on the client's side (the
caller wakes the I/O thread to send; the I/O thread wakes the caller with the reply), about a
third of a cheap call's time (bench_agent: ``get_param`` against raw ZeroMQ request/reply). So a
call takes a socket of its own from this pool, sends, and polls for its reply itself.

Each socket is a DEALER whose identity is the client's followed by a 2-byte number: the server
serves the call for the client's session (:data:`~rosweb.graph.remote.wire.IDENTITY_SIZE`
first bytes) and routes the reply to the socket that asked. A socket is used by one thread at a
time (taken and given back under a lock: ZeroMQ's rule for sockets that change threads). Sends
never queue for a server that is not there (``ZMQ_IMMEDIATE``): a new socket waits until it is
connected, within the call's timeout. A reply that comes after its call timed out is recognised
by its id and dropped by the socket's next call.

At most :data:`~rosweb.graph.remote.wire.CALL_SOCKETS` sockets: a call that finds none free goes
through the I/O thread, as before. The session's own calls (``hello``, ``bye``, restoring
subscriptions) always go through the I/O thread's socket.
"""

from __future__ import annotations

import itertools
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import zmq

from rosweb.errors import BackendUnavailable
from rosweb.graph.remote.codec import error_from_wire, loads
from rosweb.graph.remote.wire import CALL_SOCKETS

__all__ = ["DirectCalls"]

#: seconds between two looks at whether a waiting call must fail at once (the server is known
#: gone or restarted, the client closes); a reply wakes the call at once
CHECK_EVERY = 0.05


class DirectCalls:
    """The pool of call sockets of one client."""

    def __init__(self, ctx: zmq.Context[Any], address: str, identity: bytes) -> None:
        self._ctx = ctx
        self._address = address
        self._identity = identity
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._free: list[zmq.Socket[Any]] = []
        self._busy = 0  # sockets taken by a call (open sockets: these and the free ones)
        self._numbers = itertools.count(1)
        self._closed = False

    def call(
        self, call_id: int, body: bytes, timeout: float, why_not: Callable[[], str | None]
    ) -> tuple[bool, Any]:
        """Send ``body`` (the request ``call_id``) and wait for its reply: ``(True, value)``, or
        ``(False, None)`` when no socket is free (the caller goes through the I/O thread).
        Raises the call's error, BackendUnavailable when ``why_not()`` gives a reason (checked
        every :data:`CHECK_EVERY` s) or the socket fails, TimeoutError when ``timeout`` passes
        (the client words it)."""
        sock = self._take()
        if sock is None:
            return False, None
        try:
            value = self._exchange(sock, call_id, body, timeout, why_not)
        except zmq.ZMQError as err:  # a socket in trouble is not used again
            self._forget(sock)
            raise BackendUnavailable(f"the call to the agent failed: {err}") from None
        except BaseException:
            self._give_back(sock)
            raise
        self._give_back(sock)
        return True, value

    def _exchange(
        self,
        sock: zmq.Socket[Any],
        call_id: int,
        body: bytes,
        timeout: float,
        why_not: Callable[[], str | None],
    ) -> Any:
        deadline = time.monotonic() + timeout
        try:
            sock.send_multipart([b"req", body], zmq.NOBLOCK)
        except zmq.Again:  # not connected (yet: a new socket, or one reconnecting)
            self._wait(sock, zmq.POLLOUT, deadline, why_not)
            try:
                sock.send_multipart([b"req", body], zmq.NOBLOCK)
            except zmq.Again:  # the connection went as we looked
                raise BackendUnavailable(why_not() or "the agent is unavailable") from None
        while True:
            self._wait(sock, zmq.POLLIN, deadline, why_not)
            frames = sock.recv_multipart()
            try:
                reply = loads(frames[1]) if len(frames) == 2 and frames[0] == b"rep" else None
            except Exception:
                reply = None
            if not isinstance(reply, dict) or reply.get("id") != call_id:
                continue  # the late reply of a call that timed out on this socket
            if reply.get("ok"):
                return reply.get("value")
            raise error_from_wire(reply.get("error"))

    def _wait(
        self,
        sock: zmq.Socket[Any],
        event: int,
        deadline: float,
        why_not: Callable[[], str | None],
    ) -> None:
        while True:
            reason = why_not()
            if reason is None and self._closed:
                reason = "the connection to the agent is closed"
            if reason is not None:
                raise BackendUnavailable(reason)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if sock.poll(max(1, int(min(left, CHECK_EVERY) * 1000)), event):
                return

    def _take(self) -> zmq.Socket[Any] | None:
        with self._lock:
            if self._closed:
                return None
            if self._free:
                self._busy += 1
                return self._free.pop()
            if self._busy >= CALL_SOCKETS:  # none free: every open socket is busy
                return None
            self._busy += 1
            number = next(self._numbers) % 65536
        try:
            sock: zmq.Socket[Any] = self._ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.IDENTITY, self._identity + struct.pack("!H", number))
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.IMMEDIATE, 1)
            sock.setsockopt(zmq.RECONNECT_IVL, 100)
            sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
            sock.connect(self._address)
        except zmq.ZMQError:
            self._forget(None)
            return None
        return sock

    def _give_back(self, sock: zmq.Socket[Any]) -> None:
        with self._lock:
            if not self._closed:
                self._busy -= 1
                self._free.append(sock)
                return
        self._forget(sock)

    def _forget(self, sock: zmq.Socket[Any] | None) -> None:
        if sock is not None:
            sock.close(linger=0)
        with self._lock:
            self._busy -= 1
            self._changed.notify_all()

    def close(self, timeout: float = 2.0) -> bool:
        """Close every socket: the free ones now, a busy one as its call ends (within
        :data:`CHECK_EVERY`). False if some call still held one after ``timeout`` s."""
        with self._lock:
            self._closed = True
            free, self._free = self._free, []
        for sock in free:
            sock.close(linger=0)
        with self._lock:
            return self._changed.wait_for(lambda: self._busy == 0, timeout)
