"""Server-sent events as a native Tornado handler (``rosweb run``): Tornado's WSGI container
buffers whole responses, so an endless one must not go through it.

Bounded like the WebSocket: the consumer queue (``queue_length``, at most 1000 messages) and
the bytes handed to the socket (:data:`BUFFER_LIMIT`); a client that takes nothing for
``ROSWEB_WS_STALL_TIMEOUT`` s is disconnected.
"""

from __future__ import annotations

import asyncio
from typing import Any

import tornado.ioloop
import tornado.iostream
import tornado.web

from rosweb.core.events import KEEPALIVE, event_text, open_events
from rosweb.errors import RosWebError
from rosweb.hub import Consumer
from rosweb.server.errors import TornadoJsonErrors, viewer, write_error_of
from rosweb.server.offload import off_loop
from rosweb.web.state import RosWebState

__all__ = ["BUFFER_LIMIT", "SseHandler"]

#: bytes written to an event stream before waiting for the client to take them
BUFFER_LIMIT = 1 << 20


class SseHandler(TornadoJsonErrors, tornado.web.RequestHandler):
    """``GET /api/topics/<topic>/events``."""

    def initialize(self, state: RosWebState, stall_timeout: float = 10.0) -> None:
        self.state = state
        self.stall_timeout = stall_timeout
        self.consumer: Consumer | None = None
        self.ready = asyncio.Event()

    async def get(self, topic: str) -> None:
        loop = tornado.ioloop.IOLoop.current()
        args = {k: self.get_argument(k) for k in self.request.arguments}
        try:
            robot = viewer(self, self.state, "sse")
            self.consumer = await off_loop(
                self.state.executor, open_events, robot, topic, args,
                lambda _c: loop.add_callback(self.ready.set),
            )  # fmt: skip
        except RosWebError as err:
            return write_error_of(self, err)
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        connection: Any = self.request.connection
        connection.stream.set_nodelay(True)
        consumer = self.consumer
        try:
            self.write(": rosweb event stream\n\n")
            await self.flush()
            while not consumer.closed:
                try:
                    await asyncio.wait_for(self.ready.wait(), KEEPALIVE)
                except TimeoutError:
                    self.write(": keepalive\n\n")
                self.ready.clear()
                unsent = 0
                for envelope in consumer.drain():
                    text = event_text(envelope)
                    self.write(text)
                    unsent += len(text)
                    if unsent > BUFFER_LIMIT:
                        await asyncio.wait_for(self.flush(), self.stall_timeout)
                        unsent = 0
                await asyncio.wait_for(self.flush(), self.stall_timeout)
        except TimeoutError:  # the client stopped reading: its memory is not ours to give
            self.request.connection.close()  # type: ignore[union-attr]
        except tornado.iostream.StreamClosedError:
            pass
        finally:
            consumer.close()

    def on_connection_close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
        self.ready.set()
