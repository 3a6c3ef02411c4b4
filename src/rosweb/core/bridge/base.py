"""The state a rosbridge session's op groups share (see :mod:`rosweb.core.bridge.session`)."""

from __future__ import annotations

import collections
import itertools
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from rosweb.core.bridge.fields import BridgeOptions
from rosweb.core.bridge.frames import Frame
from rosweb.core.guard import GuardedRobot
from rosweb.errors import AuthError
from rosweb.graph import Handle
from rosweb.hub import Consumer

__all__ = ["Pending", "SessionBase", "Subscription"]


@dataclass
class Subscription:
    consumer: Consumer
    name: str  # as the client wrote it: clients match frames by that exact string
    sids: dict[str | None, dict[str, Any]] = field(default_factory=dict)
    compression: str = "none"
    fragment_size: int | None = None


@dataclass
class Pending:
    done: threading.Event = field(default_factory=threading.Event)
    values: Any = None
    result: bool = False


class SessionBase:
    """Attributes and the few methods every group of ops uses."""

    robot: GuardedRobot | None
    options: BridgeOptions
    closed: bool
    _wake: Callable[[], None]
    _executor: Executor
    _lock: threading.RLock
    _control: collections.deque[Frame]
    _subscriptions: dict[str, Subscription]
    _turn: collections.deque[str]
    _publishers: dict[str, Handle]
    _services: dict[str, Handle]
    _pending: dict[str, Pending]
    _latched: set[str]
    _ids: itertools.count[int]

    def _act(self) -> GuardedRobot:
        """The robot as this client may use it (ops are refused before authentication)."""
        if self.robot is None:  # pragma: no cover - the op table refused the op already
            raise AuthError("not authenticated")
        return self.robot

    def _notify(self, consumer: Consumer) -> None:
        self._wake()

    def send(self, message: dict[str, Any], compression: str = "none") -> None:
        raise NotImplementedError

    def status(self, level: str, text: str, mid: str | int | None = None) -> None:
        raise NotImplementedError
