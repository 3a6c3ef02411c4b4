"""Requests from the fleet to one robot: MQTT 5 response topic + correlation data.

Each request gets a fresh correlation id and waits for the answer on the fleet's own ``resp/``
level of that robot's subtree; an answer with an unknown id, or from another robot than the
one asked, is dropped. At most :data:`MAX_WAITING` requests wait at once (beyond: too_busy).
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from rosweb.errors import (
    BackendUnavailable,
    RosWebError,
    ServiceTimeout,
    TooBusy,
    ValidationError,
    from_wire,
)  # fmt: skip
from rosweb.graph.mqtt.contract import Layout, encode, expiry_seconds, header
from rosweb.graph.mqtt.link import MqttLink

__all__ = ["MAX_WAITING", "Requests"]

MAX_WAITING = 1000


class _Waiter:
    __slots__ = ("answer", "done", "robot")

    def __init__(self, robot: str) -> None:
        self.robot = robot
        self.done = threading.Event()
        self.answer: Any = None


class Requests:
    """Send commands and requests, match their answers."""

    def __init__(self, link: MqttLink, layout: Layout, requester: str, encoding: str) -> None:
        self.link = link
        self.layout = layout
        self.requester = requester
        self.encoding = encoding
        self.forged = 0  #: answers dropped: unknown id, or from another robot than the one asked
        self._waiting: dict[bytes, _Waiter] = {}
        self._lock = threading.Lock()

    def send(
        self,
        robot: str,
        kind: str,
        op: str,
        args: dict[str, Any],
        *,
        ttl: float,
        user: str = "",
        role: str = "",
        client: str = "",
        wait: bool = True,
    ) -> Any:
        """Send ``kind`` (``cmd``: QoS 0; ``req``: QoS 1) ``op`` to ``robot``; with ``wait``,
        the result (or the robot's error, raised) within ``ttl`` seconds (and a little)."""
        body = {**header(robot, ttl=ttl, user=user, role=role, client=client), **args}
        topic = self.layout.cmd(robot, op) if kind == "cmd" else self.layout.req(robot, op)
        payload = encode(body, self.encoding)
        if not wait:
            self.link.publish(topic, payload, qos=0, content_type=self.encoding,
                              expiry=expiry_seconds(ttl))  # fmt: skip
            return None
        key = uuid.uuid4().bytes
        waiter = _Waiter(robot)
        with self._lock:
            if len(self._waiting) >= MAX_WAITING:
                raise TooBusy(f"{MAX_WAITING} requests to robots wait already")
            self._waiting[key] = waiter
        try:
            self.link.publish(
                topic, payload, qos=0 if kind == "cmd" else 1, content_type=self.encoding,
                expiry=expiry_seconds(ttl), response_topic=self.layout.resp(robot, self.requester),
                correlation=key,
            )  # fmt: skip
            if not waiter.done.wait(ttl + 0.5):
                if kind == "cmd":
                    raise BackendUnavailable(f"robot {robot} did not answer {op} within {ttl:g} s")
                raise ServiceTimeout(f"robot {robot} did not answer {op} within {ttl:g} s")
        finally:
            with self._lock:
                self._waiting.pop(key, None)
        answer = waiter.answer
        if not isinstance(answer, dict):
            raise ValidationError(f"robot {robot} answered {op} with {answer!r}")
        if answer.get("ok"):
            return answer.get("result")
        raise _error(answer.get("error"))

    def answered(self, robot: str, correlation: bytes | None, answer: Any) -> None:
        """An answer arrived (on the network thread)."""
        with self._lock:
            waiter = self._waiting.get(correlation) if correlation else None
        if waiter is None or waiter.robot != robot:
            self.forged += 1
            return
        waiter.answer = answer
        waiter.done.set()

    def cancel_all(self) -> None:
        """The broker is gone: every waiting request fails now instead of at its timeout."""
        with self._lock:
            waiters = list(self._waiting.values())
        for waiter in waiters:
            waiter.answer = {
                "ok": False,
                "error": {
                    "type": "BackendUnavailable",
                    "message": "the broker connection was lost",
                },
            }
            waiter.done.set()


def _error(wire: Any) -> RosWebError:
    return from_wire(wire)
