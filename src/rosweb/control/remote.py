"""The control of a robot whose node runs in an agent process (``rosweb run --workers N``).

The agent serves its :class:`~rosweb.control.core.Control` as the object ``control`` with the
methods of :data:`~rosweb.control.port.CONTROL_METHODS`; :class:`RemoteControl` calls them over
the agent's connection, so the lease, the e-stop and the deadman are one for every worker.
"""

from __future__ import annotations

import time
from typing import Any, cast

from rosweb.control.port import CONTROL_METHODS
from rosweb.errors import BackendUnavailable
from rosweb.graph import normalize_name
from rosweb.graph.remote import RpcClient
from rosweb.messages import Message

__all__ = ["RemoteControl"]

OBJECT = "control"
COMMAND_TOPICS_TTL = 5.0  # seconds the agent's list of command topics is trusted


class RemoteControl:
    """A :class:`~rosweb.control.port.ControlPort` served by the agent at the other end of
    ``link``; its errors (LeaseHeld, EStopEngaged...) arrive as the same classes."""

    def __init__(self, link: RpcClient) -> None:
        if OBJECT not in link.objects:
            raise BackendUnavailable("the agent serves no control (is it an older rosweb agent?)")
        self._link = link
        self._command_topics: tuple[frozenset[str], float] | None = None

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        assert method in CONTROL_METHODS
        return self._link.call(OBJECT, method, *args, **kwargs)

    def is_command_topic(self, topic: str) -> bool:
        """Asked of the agent's settings at most every few seconds, not at every message."""
        now = time.monotonic()
        known = self._command_topics
        if known is None or now - known[1] > COMMAND_TOPICS_TTL:
            topics = frozenset(self._call("info")["command_topics"])
            known = self._command_topics = (topics, now)
        return normalize_name(topic) in known[0]

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
        limits = {"max_linear": max_linear, "max_angular": max_angular}
        return cast(Message, self._call("drive", topic, twist, user=user, client=client, **limits))

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
        limits = {"max_linear": max_linear, "max_angular": max_angular}
        return cast(Message, self._call("command", name, speed, user=user, client=client, **limits))

    def stop(self) -> None:
        self._call("stop")

    def disconnected(self, user: str, client: str = "") -> None:
        self._call("disconnected", user, client)

    def acquire(self, *, user: str, client: str = "", force: bool = False) -> dict[str, Any]:
        return cast(dict[str, Any], self._call("acquire", user=user, client=client, force=force))

    def release(self, *, user: str, client: str = "", force: bool = False) -> bool:
        return bool(self._call("release", user=user, client=client, force=force))

    def engage_estop(self, *, user: str) -> dict[str, Any]:
        return cast(dict[str, Any], self._call("engage_estop", user=user))

    def clear_estop(self, *, user: str) -> dict[str, Any]:
        return cast(dict[str, Any], self._call("clear_estop", user=user))

    def state(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._call("state"))

    def info(self) -> dict[str, Any]:
        return cast(dict[str, Any], self._call("info"))

    def close(self) -> None:
        """Nothing to release here: the control lives on in the agent."""
