"""One ROS 2 node over Zenoh, as rmw_zenoh makes one: the session, the node's liveliness token,
entity ids, the graph cache, and the type helpers every entity needs (DDS name, hash, key).

:class:`Node` is what the topic, service and parameter parts of ``Ros2Graph`` share; it declares
nothing but the node token and the graph subscriber itself.
"""

from __future__ import annotations

import itertools
import logging
import threading
from typing import Any

import zenoh

from rosweb.errors import BackendUnavailable, TypeMismatchError
from rosweb.graph.ros2 import keys
from rosweb.graph.ros2.cache import GraphCache
from rosweb.graph.ros2.keys import Qos
from rosweb.graph.ros2.options import Ros2Options
from rosweb.graph.ros2.session import Link
from rosweb.messages import TypeStore
from rosweb.messages.cdr import CdrCodec
from rosweb.messages.ros2 import dds_type_name

__all__ = ["Node"]

log = logging.getLogger(__name__)

#: seconds start-up waits for the graph's current tokens (rmw_zenoh's liveliness_get)
GRAPH_GET_TIMEOUT = 1.0


class Node:
    def __init__(self, options: Ros2Options) -> None:
        self.options = options
        self.domain = options.domain
        self.types = TypeStore(distro=options.distro)
        self.codec = CdrCodec(self.types)
        self.link = Link(options)
        self.session = self.link.session
        self.cache = GraphCache(options.domain)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._tokens: dict[int, zenoh.LivelinessToken] = {}
        prefix = f"{keys.ADMIN_SPACE}/{self.domain}/**"
        try:
            self._graph_sub = self.link.liveliness.declare_subscriber(prefix, self._on_token)
            for reply in self.link.liveliness.get(prefix, timeout=GRAPH_GET_TIMEOUT):
                if reply.ok is not None:
                    self.cache.update(str(reply.ok.key_expr), True)
            self._node_token = self.link.liveliness.declare_token(
                keys.node_token(self.domain, self.link.zid, 0, options.namespace, options.node)
            )
        except zenoh.ZError as err:
            self.link.close()
            raise BackendUnavailable(f"ros2://: cannot join the graph: {err}") from err

    @property
    def fqn(self) -> str:
        return self.options.node_fqn

    def _on_token(self, sample: zenoh.Sample) -> None:
        try:
            self.cache.update(str(sample.key_expr), sample.kind == zenoh.SampleKind.PUT)
        except Exception:  # never let a malformed token kill the graph subscriber
            log.exception("ros2://: bad liveliness token %s", sample.key_expr)

    # -- entities -------------------------------------------------------------------------------

    def topic_key(self, name: str, type_name: str) -> str:
        """The data key of a topic (message type) or a service (service type)."""
        return keys.data_key(
            self.domain, name, dds_type_name(type_name), self.types.type_hash(type_name)
        )

    def declare_entity(self, kind: str, name: str, type_name: str, qos: Qos) -> int:
        """Declare the liveliness token of a publisher/subscription/server/client; its id."""
        entity_id = next(self._ids)
        token_key = keys.entity_token(
            self.domain, self.link.zid, 0, entity_id, kind, self.options.namespace,
            self.options.node, name, dds_type_name(type_name), self.types.type_hash(type_name), qos,
        )  # fmt: skip
        token = self.link.liveliness.declare_token(token_key)
        with self._lock:
            self._tokens[entity_id] = token
        return entity_id

    def undeclare_entity(self, entity_id: int) -> None:
        with self._lock:
            token = self._tokens.pop(entity_id, None)
        if token is not None and not self.link.closed:
            try:
                token.undeclare()  # type: ignore[no-untyped-call]
            except zenoh.ZError:
                log.debug("ros2://: token %d already gone", entity_id)

    def check_type(self, name: str, type_name: str, kinds: tuple[str, ...]) -> None:
        """TypeMismatchError when another entity of ``kinds`` uses ``name`` with another type."""
        wanted = dds_type_name(type_name)
        for entity in self.cache.entities(kinds):
            if entity.name == name and entity.dds_type != wanted:
                have = entity.dds_type.replace("::dds_::", "::").replace("::", "/").rstrip("_")
                raise TypeMismatchError(f"{name} has type {have}, not {type_name}")

    def health(self) -> dict[str, Any]:
        report = self.link.health()
        report.update(
            {
                "ok": report["router_connected"],
                "domain": self.domain,
                "distro": self.options.distro,
                "node": self.fqn,
                "entities": self.cache.counts(),
            }
        )
        return report

    def close(self) -> None:
        with self._lock:
            self._tokens.clear()
        self.link.close()
