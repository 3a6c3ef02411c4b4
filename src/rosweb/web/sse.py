"""Server-sent events as a Flask route: ``GET /api/topics/<topic>/events?throttle_rate=MS&
queue_length=N`` streams ``data: <message>`` events (for ``flask run`` and WSGI servers; under
``rosweb run`` the native handler of :mod:`rosweb.server.sse` answers the same path first).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from flask import Response

from rosweb.core import GuardedRobot
from rosweb.core.events import KEEPALIVE, event_text, open_events
from rosweb.hub import Consumer
from rosweb.web.state import refuse_buffered_stream

__all__ = ["event_response", "sse_events"]


def sse_events(consumer: Consumer) -> Iterator[str]:
    """Blocking event stream (a WSGI thread writes it); ends when the consumer closes."""
    try:
        yield ": rosweb event stream\n\n"
        while not consumer.closed:
            envelope = consumer.get(timeout=KEEPALIVE)
            yield event_text(envelope) if envelope is not None else ": keepalive\n\n"
    finally:
        consumer.close()


def event_response(robot: GuardedRobot, topic: str, args: Mapping[str, str]) -> Response:
    refuse_buffered_stream()
    response = Response(sse_events(open_events(robot, topic, args)), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    return response
