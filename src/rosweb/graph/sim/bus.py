"""The in-process middleware: topics, services and parameters inside one Python process.

It behaves like a small ROS master plus transport: topics have one type each, latched topics
replay their last message to late subscribers, services run on a worker pool with timeouts.
Delivery is synchronous on the publisher's thread (subscriber callbacks must hand off quickly,
as with every backend); a callback that raises is logged and counted, never propagated.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from rosweb.errors import (
    GraphError,
    NotFoundError,
    RosWebError,
    ServiceError,
    ServiceTimeout,
    TypeMismatchError,
    UnknownTypeError,
)
from rosweb.graph.base import (
    Callback,
    Connections,
    Graph,
    Handle,
    ServiceHandler,
    normalize_name,
)
from rosweb.graph.params import ParamTree
from rosweb.messages import Message, TypeStore, from_json

__all__ = ["Bus"]

log = logging.getLogger(__name__)


@dataclass
class _Topic:
    type: str
    publishers: int = 0
    subscribers: dict[Handle, Callback] = field(default_factory=dict)
    latched: Message | None = None
    publisher_nodes: dict[str, int] = field(default_factory=dict)  # node -> advertisements
    subscriber_nodes: dict[Handle, str] = field(default_factory=dict)


@dataclass
class _Service:
    type: str
    handler: ServiceHandler
    handle: Handle
    node: str


class Bus(Graph):
    """An in-process graph. ``nodes`` names the nodes that live on it; ``node=`` on advertise,
    publish, subscribe and provide_service says which of them acts (default: the bus's own)."""

    def __init__(self, *, url: str = "sim://", node: str = "/rosweb") -> None:
        self.url = url
        self.node = node
        self.types = TypeStore()
        self.params = ParamTree()
        self._nodes = [node]
        self._topics: dict[str, _Topic] = {}
        self._services: dict[str, _Service] = {}
        self._advertisers: dict[Handle, str] = {}  # advertise() handle -> its node
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="rosweb-sim")
        self._closed = False
        #: callbacks that raised (logged with the topic)
        self.callback_errors = 0

    def add_node(self, name: str) -> None:
        self._nodes.append(name)

    # -- topics ---------------------------------------------------------------------------------

    def _topic(self, topic: str, type_name: str) -> _Topic:
        """The topic's record, created with ``type_name``; the caller holds the lock."""
        if not self.types.has_message(type_name):
            raise UnknownTypeError(type_name)
        entry = self._topics.get(topic)
        if entry is None:
            entry = self._topics[topic] = _Topic(type_name)
        elif entry.type != type_name:
            raise TypeMismatchError(f"topic {topic} has type {entry.type}, not {type_name}")
        return entry

    def advertise(
        self, topic: str, type_name: str, *, latch: bool = False, node: str | None = None
    ) -> Handle:
        topic = normalize_name(topic)
        node = node or self.node
        handle = Handle(topic, type_name, self._unadvertise)
        with self._lock:
            entry = self._topic(topic, type_name)
            entry.publishers += 1
            entry.publisher_nodes[node] = entry.publisher_nodes.get(node, 0) + 1
            self._advertisers[handle] = node
        return handle

    def _unadvertise(self, handle: Handle) -> None:
        with self._lock:
            node = self._advertisers.pop(handle, self.node)
            entry = self._topics.get(handle.name)
            if entry is not None:
                entry.publishers -= 1
                left = entry.publisher_nodes.get(node, 0) - 1
                if left > 0:
                    entry.publisher_nodes[node] = left
                else:
                    entry.publisher_nodes.pop(node, None)
                self._forget_if_unused(handle.name, entry)

    def _forget_if_unused(self, topic: str, entry: _Topic) -> None:
        if entry.publishers <= 0 and not entry.subscribers and entry.latched is None:
            del self._topics[topic]

    def publish(
        self,
        topic: str,
        type_name: str,
        msg: Message,
        *,
        latch: bool = False,
        node: str | None = None,
    ) -> None:
        topic = normalize_name(topic)
        with self._lock:
            entry = self._topic(topic, type_name)
            if entry.publishers == 0:  # publishing advertises the topic for good, as rospy does
                entry.publishers = 1
            if not entry.publisher_nodes or node:
                entry.publisher_nodes.setdefault(node or self.node, 1)
            if latch:
                entry.latched = msg
            callbacks = list(entry.subscribers.values())
        for callback in callbacks:
            self._deliver(topic, callback, msg)

    def _deliver(self, topic: str, callback: Callback, msg: Message) -> None:
        try:
            callback(msg)
        except Exception:
            self.callback_errors += 1
            log.exception("subscriber callback of %s failed", topic)

    def subscribe(
        self,
        topic: str,
        callback: Callback,
        type_name: str | None = None,
        *,
        node: str | None = None,
    ) -> Handle:
        topic = normalize_name(topic)
        with self._lock:
            if type_name is None:
                if topic not in self._topics:
                    raise NotFoundError("topic", topic)
                type_name = self._topics[topic].type
            entry = self._topic(topic, type_name)
            handle = Handle(topic, type_name, self._unsubscribe)
            entry.subscribers[handle] = callback
            entry.subscriber_nodes[handle] = node or self.node
            latched = entry.latched
        if latched is not None:  # replayed off the caller's thread, as a transport would
            self._pool.submit(self._deliver, topic, callback, latched)
        return handle

    may_block = False  # in-process: every call returns at once (service calls run elsewhere)

    def latched(self, topic: str) -> bool:
        with self._lock:
            entry = self._topics.get(normalize_name(topic))
            return entry is not None and entry.latched is not None

    def _unsubscribe(self, handle: Handle) -> None:
        with self._lock:
            entry = self._topics.get(handle.name)
            if entry is not None:
                entry.subscribers.pop(handle, None)
                entry.subscriber_nodes.pop(handle, None)
                self._forget_if_unused(handle.name, entry)

    # -- services -------------------------------------------------------------------------------

    def provide_service(
        self, name: str, type_name: str, handler: ServiceHandler, *, node: str | None = None
    ) -> Handle:
        name = normalize_name(name)
        self.types.service(type_name)  # UnknownTypeError early
        handle = Handle(name, type_name, self._unprovide)
        with self._lock:
            if name in self._services:
                raise GraphError(f"service {name} is already provided")
            self._services[name] = _Service(type_name, handler, handle, node or self.node)
        return handle

    def _unprovide(self, handle: Handle) -> None:
        with self._lock:
            service = self._services.get(handle.name)
            if service is not None and service.handle is handle:
                del self._services[handle.name]

    def call_service(self, name: str, request: Message, *, timeout: float | None = None) -> Message:
        name = normalize_name(name)
        with self._lock:
            service = self._services.get(name)
        if service is None:
            raise NotFoundError("service", name)
        srv = self.types.service(service.type)
        future = self._pool.submit(service.handler, request)
        try:
            response = future.result(timeout=timeout)
        except FutureTimeout:
            raise ServiceTimeout(f"service {name} did not answer within {timeout} s") from None
        except RosWebError:
            raise
        except Exception as err:
            raise ServiceError(f"service {name} failed: {err}") from err
        try:
            return from_json(self.types, srv.response, response)
        except RosWebError as err:
            raise ServiceError(f"service {name} returned a bad response: {err}") from err

    # -- parameters -----------------------------------------------------------------------------

    def get_param(self, name: str) -> Any:
        return self.params.get(name)

    def set_param(self, name: str, value: Any) -> None:
        self.params.set(name, value)

    def delete_param(self, name: str) -> None:
        self.params.delete(name)

    def param_names(self) -> list[str]:
        return self.params.names()

    # -- introspection --------------------------------------------------------------------------

    def topics(self) -> dict[str, str]:
        with self._lock:
            return {name: entry.type for name, entry in sorted(self._topics.items())}

    def services(self) -> dict[str, str]:
        with self._lock:
            return {name: service.type for name, service in sorted(self._services.items())}

    def nodes(self) -> list[str]:
        return sorted(self._nodes)

    def connections(self) -> Connections:
        with self._lock:
            topics = list(self._topics.items())
            services = [(name, service.node) for name, service in self._services.items()]
        return Connections(
            publishers={n: sorted(e.publisher_nodes) for n, e in topics if e.publisher_nodes},
            subscribers={
                n: sorted(set(e.subscriber_nodes.values())) for n, e in topics if e.subscribers
            },
            providers={name: [node] for name, node in sorted(services)},
        )

    def health(self) -> dict[str, Any]:
        return {"ok": not self._closed, "callback_errors": self.callback_errors}

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._topics.clear()
            self._services.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
