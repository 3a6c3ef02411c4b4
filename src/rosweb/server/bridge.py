"""The rosbridge endpoint as a native Tornado WebSocket handler (``rosweb run``).

Incoming frames are handled off the event loop when the backend may block (a ROS master, an
agent), one at a time per connection in the order they came
(:class:`~rosweb.server.offload.Serial`), so a stalled master or agent holds up only the clients
waiting on it; with an in-process backend that never blocks (the simulator) they are handled on
the loop, without a thread hop. Sending is driven by the session's ``wake``. A message for at
most :data:`~rosweb.server.flushes.DIRECT_FANOUT` clients, or a reply, is written by the thread
that made it (the middleware's receive thread, a service call's) when the socket takes it at
once: no loop wake, which is most of the CPU a message to one client costs
(:meth:`BridgeWebSocket._send_here`). Otherwise the connections woken together are flushed by
one callback on the loop (:class:`~rosweb.server.flushes.Flushes`: a message for fifty clients
wakes the loop once); a flush writes what is ready and waits for the socket to take it before
writing more, so a client that does not read only fills its own bounded queues; one that has not
taken a frame for ``stall_timeout`` seconds is closed. Every write of a connection, on any
thread, Tornado's own frames included, holds its ``_send_lock``, so frames leave whole and in
order.

Reading is back-pressured: while a client is over ``ROSWEB_WS_RATE_LIMIT`` (for at most
:data:`~rosweb.core.bridge.session.MAX_HOLD` at a time), or :data:`HIGH_WATER` of its frames
wait for a blocking backend, its socket is not read, so its frames wait in TCP's buffers and
its sends slow down: a flood is neither lost nor paid for.

Frames reach the socket ready-made: the session hands out WebSocket frames
(:func:`~rosweb.core.bridge.frames.websocket_frame`), a topic message's made once for every
client on the middleware's thread, and a flush writes the frames pending for its client in one
``write`` (one send), at most :data:`BATCH_FRAMES` frames or about :data:`BUFFER_LIMIT` bytes
per loop turn; a write the socket takes at once is not awaited (no task, no timer per flush).
So permessage-deflate is never offered (it would need
Tornado's ``write_message``; it doubles the CPU of small JSON messages anyway).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import cast

import tornado.ioloop
import tornado.iostream
import tornado.websocket

from rosweb.core.bridge import BridgeSession
from rosweb.core.bridge.frames import websocket_frame
from rosweb.errors import AuthError, PermissionDenied
from rosweb.server.errors import TornadoJsonErrors, tornado_error
from rosweb.server.flushes import flushes_of
from rosweb.server.offload import Serial
from rosweb.web.bridge.open import open_session
from rosweb.web.state import RosWebState

__all__ = ["BridgeWebSocket"]

log = logging.getLogger(__name__)

#: bytes written to a socket before waiting for it to take them: what a slow client can hold
BUFFER_LIMIT = 1 << 20
#: frames taken from the session for one write
BATCH_FRAMES = 200
#: frames of one connection waiting for a blocking backend before its socket is read no further
HIGH_WATER = 100
#: frames bigger than this in all (a camera image) are written by the loop: there the wake-up
#: is nothing next to the copy, and the middleware's thread goes back to receiving at once
DIRECT_BYTES = 1 << 16

Write = Callable[[bytes | memoryview], "asyncio.Future[None]"]


class BridgeWebSocket(TornadoJsonErrors, tornado.websocket.WebSocketHandler):
    """One rosbridge client per connection."""

    def initialize(self, state: RosWebState, stall_timeout: float = 10.0) -> None:
        self.state = state
        self.stall_timeout = stall_timeout
        self.session: BridgeSession | None = None
        self._serial = Serial(state.executor)
        #: an in-process backend never blocks: its ops run on the loop, without a thread hop
        self.inline_ok = not state.robot.may_block
        self._refused = 0  # frames refused because too many waited (reported once a burst)
        self._held: str | bytes | None = None  # a frame read, waiting to be taken (_take_later)
        self._scheduled = False
        self._flushing = False
        self._drainer: asyncio.Future[None] | None = None  # a write waiting for the socket
        #: held by every write to this connection's socket, on any thread (:meth:`_send_here`)
        self._send_lock = threading.RLock()
        #: what a send off the loop left unsent, in :func:`_chunks` (empty: nothing)
        self._remainder: list[bytes | memoryview] = []
        self._direct = False  # writes off the loop allowed: a plain TCP stream, once open
        self._stream: tornado.iostream.IOStream | None = None  # that stream

    def get_compression_options(self) -> None:
        """No permessage-deflate: frames are written ready-made (see the module's doc)."""
        return None

    @property
    def max_message_size(self) -> int:
        return int(self.state.bridge_options.max_message_size)

    def check_origin(self, origin: str) -> bool:
        """Pages of this server, of ROSWEB_CORS_ORIGINS, and non-browser clients (no Origin):
        a page elsewhere must not drive the robot with a visitor's cookie or loopback."""
        return bool(self.state.gate.origin_allowed(origin, self.request.host))

    def prepare(self) -> None:
        """Authenticate before the upgrade: bad credentials get a 401/403 JSON answer."""
        request = self.request
        self.loop = tornado.ioloop.IOLoop.current()
        self._flushes = flushes_of(self.loop)
        try:
            self.session = open_session(
                self.state, wake=self._wake, remote=request.remote_ip or "", host=request.host,
                authorization=request.headers.get("Authorization"),
                token=self.get_query_argument("token", None),
                cookie=self.get_cookie(self.state.gate.cookie_name),
                client=self.get_query_argument("client", None), framing=websocket_frame,
            )  # fmt: skip
        except AuthError as err:
            tornado_error(self, 401, "unauthorized", str(err))
        except PermissionDenied as err:
            tornado_error(self, 403, "forbidden", str(err))

    def open(self, *args: str) -> None:
        self.set_nodelay(True)
        connection = self.ws_connection
        stream = getattr(connection, "stream", None)
        if type(stream) is tornado.iostream.IOStream:  # not TLS: plain sends off the loop
            self._stream = stream
            stream.write = self._locked(stream.write)  # type: ignore[method-assign,assignment]
            self._direct = True

    def _locked(self, original: Write) -> Write:
        """The stream's ``write`` for Tornado's own frames (a pong, a close) too: under
        ``_send_lock``, after what a send off the loop left unsent."""

        def write(data: bytes | memoryview) -> asyncio.Future[None]:
            with self._send_lock:
                remainder, self._remainder = self._remainder, []
                for chunk in remainder:
                    original(chunk)
                return original(data)

        return write

    def on_finish(self) -> None:
        if self.session is not None and self.ws_connection is None:
            self._serial.finish(self.session.close)  # refused before the upgrade (origin)

    def _wake(self) -> None:
        """Called from any thread when frames are ready. Off the loop, they are written here
        when the socket can take them at once (:meth:`_send_here`); else one flush is scheduled
        on the loop (with the other connections' ready at the same time:
        :class:`~rosweb.server.flushes.Flushes`)."""
        if self._scheduled:  # a flush is coming
            return
        if self._direct and self._flushes.may_send_here() and self._send_here():
            return
        self._scheduled = True
        self._flushes.add(self)

    def _send_here(self) -> bool:
        """On the thread that made the frames (a middleware's, a call's), write them to the socket
        without waking the loop: no self-pipe write, no loop turn, no callback. Only a plain TCP
        stream with nothing pending anywhere (no flush scheduled or draining, nothing in Tornado's
        buffer, no remainder of an earlier send), at most :data:`BATCH_FRAMES` frames and
        :data:`DIRECT_BYTES` bytes; True when the socket took them all. What it does not take is
        kept as ``_remainder`` for the loop to write first. Under ``_send_lock``, like every write
        of this connection, so frames leave in the order the session hands them out."""
        if not self._send_lock.acquire(blocking=False):  # the loop is writing: it goes on
            return False
        try:
            return self._send_locked()
        except Exception:  # not into the middleware's thread: the other clients still get it
            log.exception("writing a rosbridge connection failed")
            return False  # the loop tries again, and reports it there
        finally:
            self._send_lock.release()

    def _send_locked(self) -> bool:
        if self._scheduled or self._flushing or self._remainder:
            return False
        session = self.session
        connection = self.ws_connection
        stream = getattr(connection, "stream", None)
        if session is None or connection is None or stream is None:
            return False
        if connection.is_closing() or stream.writing() or stream.closed():
            return False
        frames = session.outgoing(limit=BATCH_FRAMES)
        if not frames:
            return True
        if sum(len(frame) for frame in frames) > DIRECT_BYTES:  # joined by the loop's rule
            self._remainder = list(_chunks(cast("list[bytes]", frames)))
            return False
        data = b"".join(cast("list[bytes]", frames))
        try:
            sent = stream.socket.send(data)
        except OSError:  # full (EAGAIN), or gone: the loop's write meets it
            sent = 0
        if sent < len(data):
            self._remainder = [memoryview(data)[sent:]]
            return False
        return len(frames) < BATCH_FRAMES  # more may wait: the loop takes them

    def _flush(self) -> None:
        """Write what is ready. A write the socket takes at once (the common case: its buffer has
        room) costs no task and no timer; one it cannot take is waited for by :meth:`_drain`."""
        self._scheduled = False
        with self._send_lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._flushing or self.session is None:
            return
        try:
            if self.ws_connection is None:
                return
            frames = self.session.outgoing(limit=BATCH_FRAMES)
            chunks: list[bytes | memoryview] = list(
                _chunks(cast("list[bytes]", frames)) if frames else []
            )
            if self._remainder:  # a send off the loop left it: it goes first
                chunks[:0], self._remainder = self._remainder, []
            for at, chunk in enumerate(chunks):
                written = self._write(chunk)
                if written is None:
                    continue  # the socket took it all
                if not written.done():
                    self._flushing = True
                    self._drainer = asyncio.ensure_future(self._drain(written, chunks[at + 1 :]))
                    return
                if written.exception() is not None:
                    return  # the stream closed as it wrote
            if len(frames) >= BATCH_FRAMES:
                self._wake()  # more may wait: after the loop's other work, not before it
        except (tornado.websocket.WebSocketClosedError, tornado.iostream.StreamClosedError):
            pass

    async def _drain(self, written: asyncio.Future[None], rest: list[bytes | memoryview]) -> None:
        """Wait for a socket to take what it holds (closing a client that has not taken a frame
        for ``stall_timeout``), write the rest, then flush again."""
        try:
            await asyncio.wait_for(written, self.stall_timeout)
            for chunk in rest:
                more = self._write(chunk)
                if more is not None:
                    await asyncio.wait_for(more, self.stall_timeout)
        except TimeoutError:
            log.warning("rosbridge client %s stopped reading: closing", self.request.remote_ip)
            self.close(1008, "client stopped reading")
            return
        except (tornado.websocket.WebSocketClosedError, tornado.iostream.StreamClosedError):
            return
        finally:
            self._flushing = False
        self._flush()

    def _write(self, data: bytes | memoryview) -> asyncio.Future[None] | None:
        """Write WebSocket frames as they are: None when the socket took them all at once, else
        a future done when it has. A plain TCP stream with nothing of Tornado's own waiting is
        written directly, one ``send`` without a future or a copy into Tornado's buffer (a
        fifth of a small message's cost on the loop); what the socket does not take, a TLS
        stream and a stream still writing go through Tornado's ``IOStream.write``, in order
        (all of it runs on the loop's thread)."""
        connection = self.ws_connection
        stream = getattr(connection, "stream", None)
        if connection is None or connection.is_closing() or stream is None:
            raise tornado.websocket.WebSocketClosedError()
        if type(stream) is tornado.iostream.IOStream and not stream.writing():
            try:
                sent = stream.socket.send(data)
            except OSError:  # full (EAGAIN), or gone: the stream meets it and closes as it does
                sent = 0
            if sent == len(data):
                return None
            if sent:
                written: asyncio.Future[None] = stream.write(memoryview(data)[sent:])
                return written
        written = stream.write(data)
        return written

    def on_message(self, message: str | bytes) -> Awaitable[None] | None:
        """One frame in. Returning an awaitable makes Tornado read no further frame until it is
        done: back-pressure on a client over the rate limit, or whose frames still wait for a
        blocking backend (:data:`HIGH_WATER`), so it slows down instead of losing frames."""
        session = self.session
        if session is None:
            return None
        delay = session.admit(message)
        if delay is None:  # refused
            return None
        if delay > 0.0 or (not self.inline_ok and self._serial.pending >= HIGH_WATER):
            return self._take_later(session, message, delay)
        self._take(session, message)
        return None

    async def _take_later(self, session: BridgeSession, message: str | bytes, delay: float) -> None:
        self._held = message  # read before the close, so taken by on_close if it comes first
        while delay > 0.0:
            await asyncio.sleep(delay)
            if self._held is None:
                return
            next_delay = session.admit(message)
            if next_delay is None:
                self._held = None
                return
            delay = next_delay
        while not self.inline_ok and self._serial.pending >= HIGH_WATER:
            await asyncio.sleep(0.002)
            if self._held is None:
                return
        self._held = None
        self._take(session, message)

    def _take(self, session: BridgeSession, message: str | bytes) -> None:
        if not self.inline_ok:  # may block: off the loop, in order
            self._receive_later(session, message)
            return
        session.receive(message)

    def _receive_later(self, session: BridgeSession, message: str | bytes) -> None:
        if self._serial.submit(session.receive, message):
            self._refused = 0
            return
        self._refused += 1
        if self._refused == 1:
            waiting = self._serial.pending
            session.status("error", f"too many frames wait for their turn ({waiting}): this one "
                           "is dropped; wait for replies before sending more")  # fmt: skip

    def on_close(self) -> None:
        self._direct = False
        if self._stream is not None:  # no cycle through the stream's write keeps it alive
            vars(self._stream).pop("write", None)
            self._stream = None
        if self.session is not None:  # closing stops a driver's robot: a backend call, off the loop
            if self._held is not None:  # a frame held back (rate limit, HIGH_WATER) is handled
                self._serial.submit(self.session.receive, self._held)
                self._held = None
            self._serial.finish(self.session.close)  # after every frame read before the close


def _chunks(frames: list[bytes]) -> list[bytes]:
    """Frames joined into as few writes as :data:`BUFFER_LIMIT` allows (one, usually)."""
    if sum(len(f) for f in frames) <= BUFFER_LIMIT:
        return [b"".join(frames)]
    chunks, start, size = [], 0, 0
    for end, frame in enumerate(frames, 1):
        size += len(frame)
        if size > BUFFER_LIMIT or end == len(frames):
            chunks.append(b"".join(frames[start:end]))
            start, size = end, 0
    return chunks
