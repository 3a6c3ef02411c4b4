"""The agent's side of ``agent://``: one Graph served to every worker.

Subscriptions are shared: one backend subscription per topic however many workers (and
subscriptions within a worker) want it, reference-counted; the last one to leave drops it. Each
message is encoded once and sent to each worker that wants the topic. Publishers, services and
subscriptions a worker made are the worker's: they go when it says goodbye, starts a new session
or falls silent (:meth:`GraphService.peer_gone`).

A worker names its subscriptions, publishers and services itself (``hid``, an int unique in that
worker), so after a reconnection it restores them under the same names.

Topic data goes to each worker over the same connection as the replies (ROUTER, addressed per
worker), not a PUB socket: a PUB subscription reaches the agent asynchronously, so a latched
message the backend replays at once could be sent before the worker's filter is there and be
lost; on one connection the reply and the first messages keep their order. The payload is
encoded once; the I/O thread sends each worker its pending messages in batches (one ZeroMQ
message of up to ``DATA_BATCH`` items), measured in bench/bench_agent.py.

Latched messages: a new backend subscription replays them (sim, ROS 1). A second worker joining
a topic already subscribed gets the topic's last message again when it came from a latched
publisher (an outside ROS node such as map_server, or one publishing through the agent).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rosweb.agent.server import RpcServer, current_peer
from rosweb.errors import RosWebError, TypeMismatchError
from rosweb.graph import Graph, Handle, normalize_name
from rosweb.graph.remote.codec import dumps
from rosweb.messages import Message

__all__ = ["GRAPH_METHODS", "INLINE_METHODS", "GraphService"]

log = logging.getLogger(__name__)

#: seconds the agent waits for a worker's service handler
SERVICE_FORWARD_TIMEOUT = 60.0

#: what workers may call
GRAPH_METHODS = frozenset(
    {
        "advertise", "publish", "subscribe", "close_handle", "provide_service", "call_service",
        "get_param", "set_param", "delete_param", "param_names", "topics", "services", "nodes",
        "topic_type", "service_type", "param_meta", "health", "costly_self_subscriptions",
        "type_definition", "type_names", "type_flavour", "latched",
    }
)  # fmt: skip

#: what an in-process backend (``may_block`` False) answers at once: the agent's I/O thread
#: answers these itself, without the hand-offs of its pool (see RpcServer.serve)
INLINE_METHODS = frozenset(
    {
        "get_param", "param_names", "topics", "services", "nodes", "topic_type", "service_type",
        "param_meta", "costly_self_subscriptions", "type_names",
    }
)  # fmt: skip


@dataclass
class _Feed:
    """One backend subscription and the workers (and their subscriptions) that want it."""

    topic: str
    type: str = ""
    handle: Handle | None = None
    wanted: dict[bytes, set[int]] = field(default_factory=dict)  # worker -> its hids
    targets: tuple[bytes, ...] = ()  # the workers, for the delivery thread (replaced whole)
    latched: bytes | None = None  # the last message, when a latched publisher sent it


class GraphService:
    """Serves ``graph`` to workers through ``server``."""

    def __init__(self, graph: Graph, server: RpcServer) -> None:
        self.graph = graph
        self._server = server
        self._lock = threading.Lock()
        self._subscribe_lock = threading.Lock()  # one backend (un)subscription at a time
        self._feeds: dict[str, _Feed] = {}
        self._handles: dict[tuple[bytes, int], Handle] = {}  # publishers, services
        self._subscriptions: dict[tuple[bytes, int], str] = {}  # -> topic
        self._latched: dict[str, bytes] = {}  # last latched message published through us
        self.encode_errors = 0
        #: more of the agent's health report, under ``agent`` (name -> what reports it)
        self.extra_health: dict[str, Callable[[], Any]] = {}

    # -- topics ---------------------------------------------------------------------------------

    def advertise(self, hid: int, topic: str, type_name: str, latch: bool = False) -> str:
        handle = self.graph.advertise(topic, type_name, latch=latch)
        self._keep(hid, handle)
        return handle.type

    def publish(self, topic: str, type_name: str, msg: Message, latch: bool = False) -> None:
        self.graph.publish(topic, type_name, msg, latch=latch)
        if latch:
            self._latched[normalize_name(topic)] = dumps(msg)

    def subscribe(self, hid: int, topic: str, type_name: str | None = None) -> str:
        """Subscribe for the calling worker; returns the topic's type."""
        peer = current_peer()
        topic = normalize_name(topic)
        with self._subscribe_lock:
            with self._lock:
                feed = self._feeds.get(topic)
            if feed is not None:
                if type_name and type_name != feed.type:
                    raise TypeMismatchError(f"topic {topic} has type {feed.type}, not {type_name}")
                self._want(feed, peer, hid)
                latched = feed.latched or self._latched.get(topic)
                if latched is not None:  # the backend replays it only to a new subscription
                    self._server.send_data([peer], _key(topic, hid), latched)
                return feed.type
            feed = _Feed(topic)
            self._want(feed, peer, hid)  # before the backend replays a latched message

            def on_message(msg: Message) -> None:
                try:
                    payload = dumps(msg)
                except Exception:
                    self.encode_errors += 1
                    log.exception("agent: cannot encode a message of %s", topic)
                    return
                feed.latched = payload if self._latched_now(topic) else None
                self._server.send_data(feed.targets, topic.encode(), payload)

            try:
                handle = self.graph.subscribe(topic, on_message, type_name)
            except BaseException:
                with self._lock:
                    self._subscriptions.pop((peer, hid), None)
                raise
            feed.type, feed.handle = handle.type, handle
            with self._lock:
                self._feeds[topic] = feed
            return feed.type

    def _latched_now(self, topic: str) -> bool:
        try:
            return self.graph.latched(topic)
        except Exception:  # a backend that cannot tell: nothing is replayed
            return False

    def _want(self, feed: _Feed, peer: bytes, hid: int) -> None:
        with self._lock:
            feed.wanted.setdefault(peer, set()).add(hid)
            feed.targets = tuple(feed.wanted)
            self._subscriptions[(peer, hid)] = feed.topic

    def _unwant(self, peer: bytes, hid: int) -> None:
        with self._subscribe_lock:
            with self._lock:
                topic = self._subscriptions.pop((peer, hid), None)
                feed = self._feeds.get(topic) if topic is not None else None
                if feed is None:
                    return
                hids = feed.wanted.get(peer, set())
                hids.discard(hid)
                if not hids:
                    feed.wanted.pop(peer, None)
                    feed.targets = tuple(feed.wanted)
                if feed.wanted:
                    return
                del self._feeds[feed.topic]
            if feed.handle is not None:
                feed.handle.close()

    def close_handle(self, hid: int) -> None:
        self._release(current_peer(), hid)

    def _release(self, peer: bytes, hid: int) -> None:
        with self._lock:
            handle = self._handles.pop((peer, hid), None)
        if handle is not None:
            handle.close()
        else:
            self._unwant(peer, hid)

    def _keep(self, hid: int, handle: Handle) -> None:
        key = (current_peer(), hid)
        with self._lock:
            old = self._handles.pop(key, None)
            self._handles[key] = handle
        if old is not None:
            old.close()

    # -- services -------------------------------------------------------------------------------

    def provide_service(self, hid: int, name: str, type_name: str) -> None:
        """Provide ``name`` in the backend; its requests go to the calling worker."""
        peer = current_peer()
        server = self._server

        def forward(request: Message) -> Message:
            response: Message = server.call_peer(
                peer, "service", [hid, request], SERVICE_FORWARD_TIMEOUT
            )
            return response

        self._keep(hid, self.graph.provide_service(name, type_name, forward))

    def call_service(self, name: str, request: Message, timeout: float | None = None) -> Message:
        return self.graph.call_service(name, request, timeout=timeout)

    # -- parameters and introspection -----------------------------------------------------------

    def get_param(self, name: str) -> Any:
        return self.graph.get_param(name)

    def set_param(self, name: str, value: Any) -> None:
        self.graph.set_param(name, value)

    def delete_param(self, name: str) -> None:
        self.graph.delete_param(name)

    def param_names(self) -> list[str]:
        return self.graph.param_names()

    def topics(self) -> dict[str, str]:
        return self.graph.topics()

    def services(self) -> dict[str, str]:
        return self.graph.services()

    def nodes(self) -> list[str]:
        return self.graph.nodes()

    def topic_type(self, name: str) -> str:
        return self.graph.topic_type(name)

    def service_type(self, name: str) -> str:
        return self.graph.service_type(name)

    def latched(self, topic: str) -> bool:
        topic = normalize_name(topic)
        return topic in self._latched or self.graph.latched(topic)

    def param_meta(self) -> dict[str, dict[str, Any]]:
        return self.graph.param_meta()

    def costly_self_subscriptions(self) -> list[str]:
        return sorted(self.graph.costly_self_subscriptions())

    def health(self) -> dict[str, Any]:
        report = dict(self.graph.health())
        with self._lock:
            feeds = {topic: len(feed.wanted) for topic, feed in self._feeds.items()}
        report["agent"] = {
            "backend": self.graph.url,
            "workers": len(self._server.peers()),
            "subscriptions": feeds,  # topic -> workers subscribed
            "encode_errors": self.encode_errors,
            "dropped": self._server.data_dropped,  # messages workers did not keep up with
        }
        for key, part in self.extra_health.items():
            report["agent"][key] = part()
        return report

    # -- types ----------------------------------------------------------------------------------

    def type_definition(self, name: str) -> dict[str, str] | None:
        """A message or service type's full definition, for a worker that does not know it."""
        self.graph.known_type(name)
        store = self.graph.types
        try:
            if store.has_message(name):
                return {"kind": "msg", "text": store.definition(name)}
            if store.has_service(name):
                srv = store.service(name)
                return {
                    "kind": "srv",
                    "name": srv.name,
                    "request": store.definition(srv.request),
                    "response": store.definition(srv.response),
                }
        except RosWebError:
            return None
        return None

    def type_flavour(self) -> dict[str, str]:
        """The backend's type set (``noetic`` for ROS 1, a ROS 2 distro): a worker's store is the
        same flavour, so names (``pkg/msg/Name``) and the JSON form (``{sec, nanosec}``) agree."""
        return {"distro": self.graph.types.distro}

    def type_names(self) -> dict[str, list[str]]:
        store = self.graph.types
        return {"messages": store.message_types(), "services": store.service_types()}

    # -- workers --------------------------------------------------------------------------------

    def peer_gone(self, peer: bytes) -> None:
        """Drop everything a worker held: its publishers, services and subscriptions."""
        with self._lock:
            keys = [k for k in self._handles if k[0] == peer]
            subs = [k for k in self._subscriptions if k[0] == peer]
        for _, hid in keys:
            self._release(peer, hid)
        for _, hid in subs:
            self._unwant(peer, hid)

    def close(self) -> None:
        with self._lock:
            handles = list(self._handles.values())
            feeds = list(self._feeds.values())
            self._handles.clear()
            self._feeds.clear()
            self._subscriptions.clear()
        for handle in handles:
            handle.close()
        for feed in feeds:
            if feed.handle is not None:
                feed.handle.close()


def _key(topic: str, hid: int) -> bytes:
    """The stream key of an item for one subscription only (a replayed latched message)."""
    return f"{topic}\0{hid}".encode()
