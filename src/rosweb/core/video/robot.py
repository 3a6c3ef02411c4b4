"""What video does to the robot, through a :class:`~rosweb.core.guard.GuardedRobot` (the
server's trusted one: ``robot.local``): publish and advertise the inputs' and compressed
siblings' topics, and subscribe through the hub. The web app and the agent both use these, so
validation, allow/deny, the command-topic rule and the audit are the guard's on either side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rosweb.core.guard import GuardedRobot

if TYPE_CHECKING:  # those modules need the video extra (PyAV); these helpers do not
    from rosweb.core.video.compressed import Subscribe
    from rosweb.core.video.inputs import Publish

__all__ = ["advertiser", "publisher", "subscriber"]


def publisher(robot: GuardedRobot) -> Publish:
    """``publish(topic, type_name, msg)`` through ``robot``."""

    def publish(topic: str, type_name: str, msg: dict[str, Any]) -> None:
        robot.publish(topic, msg, type_name)

    return publish


def advertiser(robot: GuardedRobot) -> Callable[[str, str], Any]:
    """``advertise(topic, type_name)`` through ``robot``: a handle to close."""

    def advertise(topic: str, type_name: str) -> Any:
        return robot.advertise(topic, type_name)

    return advertise


def subscriber(robot: GuardedRobot) -> Subscribe:
    """A subscription through the hub (one per topic however many readers):
    ``on_message(type_name, msg)`` is called with the newest message, never blocking."""

    def open_(topic: str, type_name: str | None, on_message: Callable[[str, Any], None]) -> Any:
        def notify(consumer: Any) -> None:
            for envelope in consumer.drain():
                on_message(envelope.type, envelope.msg)

        return robot.consume(topic, type_name, queue_length=1, notify=notify)

    return open_
