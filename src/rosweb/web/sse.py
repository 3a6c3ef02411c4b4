"""Server-sent events: a topic as a stream of JSON events, for curl and simple pages.

``GET /api/topics/<topic>/events?throttle_rate=MS&queue_length=N`` streams ``data: <message>``
events. The core (opening a consumer, the event text, made once per message for all streams)
is shared by the Flask route and the native Tornado handler of ``rosweb run``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any

import tornado.ioloop
import tornado.web

from rosweb.errors import NotFoundError, RosWebError
from rosweb.hub import Consumer, Envelope
from rosweb.web.errors import ApiError, TornadoJsonErrors, query_number, tornado_error

__all__ = ["KEEPALIVE", "SseHandler", "event_text", "open_stream", "sse_events"]

KEEPALIVE = 15.0  # seconds between comments on a quiet stream (also detects gone clients)


def open_stream(state: Any, topic: str, args: Mapping[str, str], notify: Any = None) -> Consumer:
    """A consumer for an event stream of ``topic``; ApiError/NotFoundError if it cannot be."""
    from rosweb.web.api import topic_name

    name = topic_name(topic)
    if not state.hub.cached(name) and name not in state.graph.topics():
        raise NotFoundError("topic", name)
    throttle = query_number(args, "throttle_rate", 0.0, 0.0, 3_600_000.0)
    queue_length = int(query_number(args, "queue_length", 10, 0, 1000))
    consumer: Consumer = state.hub.consume(
        name, queue_length=queue_length, throttle_rate=throttle, notify=notify
    )
    return consumer


def event_text(envelope: Envelope) -> str:
    """The SSE event of one message, made once for every stream."""
    return envelope.encoded("sse", lambda e: f"data: {e.json}\n\n")  # type: ignore[no-any-return]


def sse_events(consumer: Consumer) -> Iterator[str]:
    """Blocking event stream (Flask); ends when the consumer closes."""
    try:
        yield ": rosweb event stream\n\n"
        while not consumer.closed:
            envelope = consumer.get(timeout=KEEPALIVE)
            yield event_text(envelope) if envelope is not None else ": keepalive\n\n"
    finally:
        consumer.close()


class SseHandler(TornadoJsonErrors, tornado.web.RequestHandler):
    """The same stream as a native Tornado handler: Tornado's WSGI container buffers whole
    responses, so an endless one must not go through it."""

    def initialize(self, state: Any) -> None:
        self.state = state
        self.consumer: Consumer | None = None
        self.ready = asyncio.Event()

    async def get(self, topic: str) -> None:
        loop = tornado.ioloop.IOLoop.current()
        from rosweb.web.api import topic_name
        from rosweb.web.security import tornado_guard

        args = {k: self.get_argument(k) for k in self.request.arguments}
        try:
            if not tornado_guard(self, self.state, "topic", topic_name(topic)):
                return
            self.consumer = open_stream(
                self.state, topic, args, notify=lambda _c: loop.add_callback(self.ready.set)
            )
        except ApiError as err:
            return tornado_error(self, err.status, err.code, err.message, err.field)
        except NotFoundError as err:
            return tornado_error(self, 404, "not_found", str(err))
        except RosWebError as err:
            return tornado_error(self, 503, "backend_unavailable", str(err))
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
                for envelope in consumer.drain():
                    self.write(event_text(envelope))
                await self.flush()
        except tornado.iostream.StreamClosedError:
            pass
        finally:
            consumer.close()

    def on_connection_close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
        self.ready.set()
