"""What the rest of rosweb may ask of a robot's control, wherever the control lives.

:class:`~rosweb.control.core.Control` (in this process) and
:class:`~rosweb.control.remote.RemoteControl` (in the agent process, ``rosweb run --workers N``)
both implement :class:`ControlPort`; the core's Robot holds one and never knows which.
Arguments and results are plain values (names, numbers, dicts), so they cross a process boundary.
"""

from __future__ import annotations

from typing import Any, Protocol

from rosweb.messages import Message

__all__ = ["CONTROL_METHODS", "ControlPort"]

#: the methods of :class:`ControlPort` the agent serves to web workers
CONTROL_METHODS = frozenset(
    {
        "is_command_topic", "drive", "command", "stop", "disconnected", "acquire", "release",
        "engage_estop", "clear_estop", "state", "info",
    }
)  # fmt: skip


class ControlPort(Protocol):
    """Teleop, deadman, lease, e-stop and limits of one robot."""

    def is_command_topic(self, topic: str) -> bool: ...

    def drive(
        self,
        topic: str,
        twist: Message,
        *,
        user: str,
        client: str = "",
        max_linear: float | None = None,
        max_angular: float | None = None,
    ) -> Message:
        """Publish a Twist on a command topic (e-stop, lease, clamp, deadman); returns what was
        published."""

    def command(
        self,
        name: str,
        speed: float = 1.0,
        *,
        user: str,
        client: str = "",
        max_linear: float | None = None,
        max_angular: float | None = None,
    ) -> Message:
        """A teleop command (``forward``, ``back``, ``left``, ``right``, ``stop``)."""

    def stop(self) -> None:
        """A zero Twist on every command topic, now."""

    def disconnected(self, user: str, client: str = "") -> None:
        """The connection of ``user``/``client`` is gone: stop if they were driving."""

    def acquire(self, *, user: str, client: str = "", force: bool = False) -> dict[str, Any]: ...

    def release(self, *, user: str, client: str = "", force: bool = False) -> bool: ...

    def engage_estop(self, *, user: str) -> dict[str, Any]: ...

    def clear_estop(self, *, user: str) -> dict[str, Any]: ...

    def state(self) -> dict[str, Any]:
        """Who drives, the e-stop, whether the robot is moving."""

    def info(self) -> dict[str, Any]:
        """The teleop settings clients need to drive."""

    def close(self) -> None: ...
