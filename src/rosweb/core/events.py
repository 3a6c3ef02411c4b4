"""A topic as a stream of server-sent events (``data: <message JSON>``): what the Flask route
and the Tornado handler share. The event text of a message is made once for every stream."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rosweb.core.guard import GuardedRobot
from rosweb.core.names import number_arg, ros_name
from rosweb.errors import NotFoundError
from rosweb.hub import Consumer, Envelope

__all__ = ["KEEPALIVE", "MAX_QUEUE", "event_text", "open_events"]

KEEPALIVE = 15.0  # seconds between comments on a quiet stream (also detects gone clients)
MAX_QUEUE = 1000  # the largest queue_length a stream may ask for


def open_events(
    robot: GuardedRobot,
    topic: str,
    args: Mapping[str, str],
    notify: Callable[[Consumer], None] | None = None,
) -> Consumer:
    """A consumer for an event stream of ``topic`` (``throttle_rate`` ms, ``queue_length``);
    raises the domain error when it cannot be (may block: the backend lists topics)."""
    name = ros_name(topic, "topic")
    throttle = number_arg(args, "throttle_rate", 0.0, 0.0, 3_600_000.0)
    queue_length = int(number_arg(args, "queue_length", 10, 0, MAX_QUEUE))
    if robot.latest(name) is None and name not in robot.topics():
        raise NotFoundError("topic", name)
    return robot.consume(name, queue_length=queue_length, throttle_rate=throttle, notify=notify)


def event_text(envelope: Envelope) -> str:
    """The SSE event of one message, made once for every stream."""
    return envelope.encoded("sse", lambda e: f"data: {e.json}\n\n")  # type: ignore[no-any-return]
