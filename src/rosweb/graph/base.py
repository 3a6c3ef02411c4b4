"""The one interface every middleware implements.

A :class:`Graph` is the robot side as rosweb sees it: topics to publish and subscribe, services to
call and provide, parameters, and introspection. Messages are plain dicts in the form of
:mod:`rosweb.messages` (``bytes`` for ``uint8[]``), already validated: the caller validates input
with :func:`rosweb.messages.from_json` before handing it over.

Callbacks run on a middleware thread; they must return quickly (hand off, never block).
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from rosweb.errors import NotFoundError
from rosweb.messages import Message, TypeStore

__all__ = ["Callback", "Connections", "Graph", "Handle", "ServiceHandler", "normalize_name"]

log = logging.getLogger(__name__)

Callback = Callable[[Message], None]
ServiceHandler = Callable[[Message], Message]


def normalize_name(name: str) -> str:
    """A global ROS name: leading slash, no trailing or doubled slashes."""
    if name[:1] == "/" and name[-1:] != "/" and "//" not in name:
        return name  # already one (every message of a topic asks: the cheap test first)
    return "/" + "/".join(part for part in name.split("/") if part)


class Handle:
    """What subscribe / advertise / provide_service return: close it to undo."""

    def __init__(self, name: str, type_name: str, closer: Callable[[Handle], None]) -> None:
        self.name = name
        self.type = type_name
        self._closer: Callable[[Handle], None] | None = closer
        self._lock = threading.Lock()

    @property
    def closed(self) -> bool:
        return self._closer is None

    def close(self) -> None:
        with self._lock:
            closer, self._closer = self._closer, None
        if closer is not None:
            closer(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<{type(self).__name__} {self.name} [{self.type}] {state}>"


@dataclass
class Connections:
    """Who publishes, subscribes and provides what: name -> sorted node names."""

    publishers: dict[str, list[str]] = field(default_factory=dict)
    subscribers: dict[str, list[str]] = field(default_factory=dict)
    providers: dict[str, list[str]] = field(default_factory=dict)


class Graph(ABC):
    """A robot middleware: the interface between rosweb and the robot."""

    #: the URL this graph was made from (``sim://``, ``ros1://``...)
    url: str = ""
    #: message and service types this graph knows
    types: TypeStore
    #: whether a call may block for long (a master, an agent, a router on the other end); an
    #: in-process backend that never waits says False, and servers may then call it on their
    #: event loop
    may_block: bool = True

    # -- topics ---------------------------------------------------------------------------------

    @abstractmethod
    def advertise(self, topic: str, type_name: str, *, latch: bool = False) -> Handle:
        """Declare a publisher; ``publish`` on the topic then needs no type lookup."""

    @abstractmethod
    def publish(self, topic: str, type_name: str, msg: Message, *, latch: bool = False) -> None:
        """Publish one message, advertising the topic on first use.

        Raises TypeMismatchError if the topic exists with another type.
        """

    @abstractmethod
    def subscribe(self, topic: str, callback: Callback, type_name: str | None = None) -> Handle:
        """Call ``callback(msg)`` for each message. Without ``type_name`` the topic must exist.

        A latched message already on the topic is delivered to the new subscriber.
        """

    # -- services -------------------------------------------------------------------------------

    @abstractmethod
    def call_service(self, name: str, request: Message, *, timeout: float | None = None) -> Message:
        """Call a service; raises NotFoundError, ServiceError or ServiceTimeout."""

    @abstractmethod
    def provide_service(self, name: str, type_name: str, handler: ServiceHandler) -> Handle:
        """Serve a service: ``handler(request) -> response`` (may raise to signal failure)."""

    # -- parameters -----------------------------------------------------------------------------

    @abstractmethod
    def get_param(self, name: str) -> Any:
        """A parameter's value; a namespace reads as a dict. Raises NotFoundError."""

    @abstractmethod
    def set_param(self, name: str, value: Any) -> None:
        """Set a parameter (a dict sets a namespace)."""

    @abstractmethod
    def delete_param(self, name: str) -> None:
        """Delete a parameter or namespace. Raises NotFoundError."""

    @abstractmethod
    def param_names(self) -> list[str]:
        """Every parameter name, sorted."""

    # -- introspection --------------------------------------------------------------------------

    @abstractmethod
    def topics(self) -> dict[str, str]:
        """Topic name -> type, for every topic with a publisher or a subscriber."""

    @abstractmethod
    def services(self) -> dict[str, str]:
        """Service name -> type."""

    @abstractmethod
    def nodes(self) -> list[str]:
        """Node names, sorted."""

    def topic_type(self, name: str) -> str:
        """The type of one topic; raises NotFoundError. Backends may answer faster."""
        type_name = self.topics().get(normalize_name(name))
        if not type_name:
            raise NotFoundError("topic", normalize_name(name))
        return type_name

    def service_type(self, name: str) -> str:
        """The type of one service; raises NotFoundError. Backends may answer faster."""
        type_name = self.services().get(normalize_name(name))
        if not type_name:
            raise NotFoundError("service", normalize_name(name))
        return type_name

    def connections(self) -> Connections | None:
        """The nodes behind each topic and service (the graph view), or None when this
        middleware cannot tell."""
        return None

    def costly_self_subscriptions(self) -> set[str]:
        """Topics this graph publishes itself where subscribing to its own messages would cost
        a round trip through the middleware (the hub does not cache them unasked)."""
        return set()

    def latched(self, topic: str) -> bool:
        """Whether the last message of ``topic`` came from a latched publisher: a late
        subscriber should get it too (the hub hands it to every new consumer). Backends that
        cannot tell say False."""
        return False

    def param_meta(self) -> dict[str, dict[str, Any]]:
        """Optional metadata of parameters (``min``, ``max``, ``step``, ``description``)."""
        return {}

    def health(self) -> dict[str, Any]:
        """A JSON-able report; ``ok`` is False when the middleware is unreachable."""
        return {"ok": True}

    def known_type(self, name: str) -> bool:
        """Whether ``name`` is a message or service type of :attr:`types`, after adding it there
        if the middleware can (ROS 1 loads installed message packages)."""
        return self.types.has_message(name) or self.types.has_service(name)

    # -- lifetime -------------------------------------------------------------------------------

    @abstractmethod
    def close(self) -> None:
        """Stop the backend and release everything; idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"
