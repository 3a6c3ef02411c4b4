"""Teleop: commands -> Twist within limits, and the deadman that stops a silent operator.

Every motion that reaches the command topic from the web goes through :meth:`Teleop.drive`: it is
clamped to the velocity limits and lasts ``timeout`` seconds unless repeated; then the watchdog
publishes a zero Twist. A browser that freezes, a network that drops, a script that crashes all
leave a stopped robot.

Publishing and the deadline change happen under one lock per command topic, so the order of the
Twists on the topic is the order of the state changes: a stop that set "not moving" is never
followed by an older move, and the watchdog's stop is never overtaken by a move that started
before it (it re-reads the deadline under the lock before it publishes).

A command topic of type TwistStamped (Nav2 on Jazzy) gets the same Twists, clamped, each in a
header stamped when it is published: stops, deadman and e-stop stops included.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

from rosweb.errors import RosWebError, ValidationError
from rosweb.graph import Graph
from rosweb.messages import Message, TypeStore, default
from rosweb.messages.ros2 import time_of

__all__ = ["COMMANDS", "TWIST", "TWIST_STAMPED", "Teleop", "VelocityLimits", "is_motion_type"]

log = logging.getLogger(__name__)

TWIST = "geometry_msgs/Twist"
#: what a stamped command topic takes (Nav2 on Jazzy): the Twist with a header
TWIST_STAMPED = "geometry_msgs/TwistStamped"

#: command -> (linear factor, angular factor) of the configured speeds
COMMANDS: dict[str, tuple[float, float]] = {
    "forward": (1.0, 0.0),
    "back": (-1.0, 0.0),
    "left": (0.0, 1.0),
    "right": (0.0, -1.0),
    "stop": (0.0, 0.0),
}


def _clamp(value: float, limit: float) -> float:
    if not math.isfinite(value):
        return 0.0
    return max(-limit, min(limit, value))


@dataclass(frozen=True)
class VelocityLimits:
    """Largest absolute linear (m/s) and angular (rad/s) velocity sent to the robot."""

    max_linear: float = 1.0
    max_angular: float = 2.0

    def clamp(self, twist: Message) -> Message:
        """A copy of the Twist with every component within limits (NaN/inf become 0)."""
        return {
            "linear": {k: _clamp(v, self.max_linear) for k, v in twist["linear"].items()},
            "angular": {k: _clamp(v, self.max_angular) for k, v in twist["angular"].items()},
        }


def is_zero(twist: Message) -> bool:
    return not any(twist["linear"].values()) and not any(twist["angular"].values())


def is_motion_type(types: TypeStore, type_name: str) -> str | None:
    """``TWIST`` or ``TWIST_STAMPED`` if ``type_name`` names one of them in any accepted form
    (ROS 2 says ``geometry_msgs/msg/Twist``), else None."""
    canonical = types.canonical(type_name)
    for motion in (TWIST, TWIST_STAMPED):
        if canonical == types.canonical(motion):
            return motion
    return None


def _stamped(types: TypeStore, twist: Message, frame_id: str) -> Message:
    """``twist`` in a TwistStamped stamped now, in the store's time form (ROS 1 or ROS 2)."""
    msg = default(types, TWIST_STAMPED)
    msg["header"]["stamp"] = time_of(time.time(), ros2=types.ros2)
    msg["header"]["frame_id"] = frame_id
    msg["twist"] = twist
    return msg


class Teleop:
    """Publishes Twists on ``topic``; a watchdog thread enforces the deadman ``timeout``.

    ``stamped`` (None: the topic's type in the graph now) publishes each Twist, stops included,
    as a TwistStamped stamped at publication, with ``frame_id``."""

    def __init__(
        self,
        graph: Graph,
        *,
        topic: str = "/cmd_vel",
        linear_speed: float = 0.3,
        angular_speed: float = 1.0,
        timeout: float = 0.2,
        limits: VelocityLimits | None = None,
        stamped: bool | None = None,
        frame_id: str = "base_link",
    ) -> None:
        self.graph = graph
        self.topic = topic
        #: whether the topic takes TwistStamped (published with a header stamped now)
        self.stamped = self._topic_is_stamped() if stamped is None else stamped
        self.type = TWIST_STAMPED if self.stamped else TWIST
        self.frame_id = frame_id
        self.linear_speed = linear_speed
        self.angular_speed = angular_speed
        self.timeout = timeout
        self.limits = limits or VelocityLimits()
        self._zero = default(graph.types, TWIST)
        self._deadline: float | None = None  # while moving: when the motion expires
        #: serializes publishing with the deadline change (and wakes the watchdog)
        self._wake = threading.Condition(threading.RLock())
        self._closed = False
        #: zero Twists published by the watchdog (a count users and tests can watch)
        self.deadman_stops = 0
        self._handle = graph.advertise(topic, self.type)
        self._thread = threading.Thread(target=self._watch, name="rosweb-deadman", daemon=True)
        self._thread.start()

    def _topic_is_stamped(self) -> bool:
        """Whether the graph knows the topic now as TwistStamped (its robot already runs)."""
        try:
            known = self.graph.topics().get(self.topic)
        except RosWebError as err:
            log.warning("cannot see the type of %s (%s): publishing Twist", self.topic, err)
            return False
        return known is not None and is_motion_type(self.graph.types, known) == TWIST_STAMPED

    def publish(self, twist: Message) -> None:
        """Publish ``twist`` as is (no clamp, no deadline), in the topic's type."""
        msg = _stamped(self.graph.types, twist, self.frame_id) if self.stamped else twist
        self.graph.publish(self.topic, self.type, msg)

    def command(self, name: str, speed: float = 1.0) -> Message:
        """Publish the Twist of a teleop command; returns what was published."""
        return self.drive(self.twist_of(name, speed))

    def twist_of(self, name: str, speed: float = 1.0) -> Message:
        """The Twist of a teleop command at ``speed`` (0..1) of the configured speeds."""
        if not isinstance(name, str) or name not in COMMANDS:
            raise ValidationError(
                f"unknown command {name!r}, expected one of {list(COMMANDS)}", "command"
            )
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0 <= speed <= 1:
            raise ValidationError(f"expects a number in [0, 1], got {speed!r}", "speed")
        linear, angular = COMMANDS[name]
        twist = default(self.graph.types, TWIST)
        twist["linear"]["x"] = linear * self.linear_speed * speed
        twist["angular"]["z"] = angular * self.angular_speed * speed
        return twist

    def drive(self, twist: Message) -> Message:
        """Publish a Twist within limits; a non-zero one expires after ``timeout``."""
        twist = self.limits.clamp(twist)
        moving = not is_zero(twist)
        with self._wake:
            if self._closed and moving:
                raise ValidationError(f"the deadman of {self.topic} is closed", "topic")
            self.publish(twist)
            self._deadline = time.monotonic() + self.timeout if moving else None
            self._wake.notify()
        return twist

    def stop(self) -> Message:
        return self.drive(self._zero)

    @property
    def moving(self) -> bool:
        return self._deadline is not None

    def _watch(self) -> None:
        with self._wake:
            while True:
                while not self._closed and (
                    self._deadline is None or time.monotonic() < self._deadline
                ):
                    wait = None if self._deadline is None else self._deadline - time.monotonic()
                    self._wake.wait(wait)
                if self._closed:
                    return
                # still under the lock: no move can slip between this check and the stop
                try:
                    self.publish(self._zero)
                    self._deadline = None
                    self.deadman_stops += 1
                    log.info("deadman: no command on %s for %g s: stopped", self.topic,
                             self.timeout)  # fmt: skip
                except Exception:
                    log.exception("deadman could not publish a stop on %s: retrying", self.topic)
                    self._deadline = time.monotonic() + min(self.timeout, 0.1)

    def close(self) -> None:
        """Stop the watchdog; a robot still moving gets a last zero Twist."""
        with self._wake:
            if self._closed:
                return
            was_moving = self._deadline is not None
            self._closed = True
            self._wake.notify()
            if was_moving:
                try:
                    self.publish(self._zero)
                    self._deadline = None
                except Exception:
                    log.exception("could not publish the final stop on %s", self.topic)
        self._thread.join(timeout=2)
        self._handle.close()
