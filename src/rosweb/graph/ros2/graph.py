"""``ros2://``: rosweb as one ROS 2 node, speaking rmw_zenoh's protocol over eclipse-zenoh.

No ROS 2 install: types, CDR and type hashes come from rosbags (the distro's set), the wire from
Zenoh. The node is visible to ``ros2 node list`` / ``ros2 topic list -t`` / ``ros2 service list``
on a robot running ``RMW_IMPLEMENTATION=rmw_zenoh_cpp`` with the same router, and its parameters
to ``ros2 param``. See :mod:`rosweb.graph.ros2.keys` for the names on the wire.
"""

from __future__ import annotations

from typing import Any

from rosweb.graph.base import Callback, Graph, Handle, ServiceHandler, normalize_name
from rosweb.graph.ros2.node import Node
from rosweb.graph.ros2.options import parse_url
from rosweb.graph.ros2.params import RemoteParams
from rosweb.graph.ros2.paramserver import ParamStore, serve_parameters
from rosweb.graph.ros2.services import Services
from rosweb.graph.ros2.topics import Topics
from rosweb.messages import Message

__all__ = ["Ros2Graph"]


class Ros2Graph(Graph):
    """A ROS 2 node (default ``/rosweb``) on the Zenoh session of ``url``."""

    def __init__(self, url: str = "ros2://", *, param_store: ParamStore | None = None) -> None:
        self.url = url
        self.options = parse_url(url)
        self.node = Node(self.options)
        self.types = self.node.types
        self._topics = Topics(self.node)
        self._services = Services(self.node)
        #: this node's own parameters (any name may be set: rosweb's node allows undeclared ones)
        self.param_store = param_store or ParamStore()
        self._params = RemoteParams(
            self.node.fqn, self.param_store, self.node.cache,
            lambda name, request, timeout: self.call_service(name, request, timeout=timeout),
        )  # fmt: skip
        self._param_handles = serve_parameters(
            self.provide_service, self.node.fqn, self.param_store
        )
        self._closed = False

    @property
    def node_name(self) -> str:
        """This node's fully qualified name (``/rosweb``)."""
        return self.node.fqn

    # -- topics ---------------------------------------------------------------------------------

    def advertise(self, topic: str, type_name: str, *, latch: bool = False) -> Handle:
        return self._topics.advertise(topic, type_name, latch=latch)

    def publish(self, topic: str, type_name: str, msg: Message, *, latch: bool = False) -> None:
        self._topics.publish(topic, type_name, msg, latch=latch)

    def subscribe(self, topic: str, callback: Callback, type_name: str | None = None) -> Handle:
        return self._topics.subscribe(topic, callback, type_name)

    # -- services -------------------------------------------------------------------------------

    def call_service(self, name: str, request: Message, *, timeout: float | None = None) -> Message:
        return self._services.call(name, request, timeout)

    def provide_service(self, name: str, type_name: str, handler: ServiceHandler) -> Handle:
        return self._services.provide(name, type_name, handler)

    def service_type(self, name: str) -> str:
        return self._services.service_type(name)

    # -- parameters -----------------------------------------------------------------------------

    def get_param(self, name: str) -> Any:
        return self._params.get(name)

    def set_param(self, name: str, value: Any) -> None:
        self._params.set(name, value)

    def delete_param(self, name: str) -> None:
        self._params.delete(name)

    def param_names(self) -> list[str]:
        return self._params.names()

    def param_meta(self) -> dict[str, dict[str, Any]]:
        return self._params.meta()

    # -- introspection --------------------------------------------------------------------------

    def topics(self) -> dict[str, str]:
        found = self.node.cache.topics()
        for name, type_name in self._topics.publishing().items():
            found.setdefault(name, type_name)
        return dict(sorted(found.items()))

    def topic_type(self, name: str) -> str:
        return super().topic_type(normalize_name(name))

    def services(self) -> dict[str, str]:
        return self.node.cache.services()

    def latched(self, topic: str) -> bool:
        """A TRANSIENT_LOCAL publisher of ``topic`` (another node's, from its token, or
        rosweb's own): a new consumer of the hub gets the last message too."""
        name = normalize_name(topic)
        own = self._topics.latched_here(name)
        return own or any(e.qos.transient_local for e in self.node.cache.publishers(name))

    def nodes(self) -> list[str]:
        return sorted({*self.node.cache.nodes(), self.node.fqn})

    def health(self) -> dict[str, Any]:
        if self._closed:
            return {"ok": False, "closed": True}
        report = self.node.health()
        report.update(
            decode_errors=self._topics.decode_errors,
            callback_errors=self._topics.callback_errors,
            service_handler_errors=self._services.handler_errors,
        )
        return report

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._params.close()
        self._services.close()
        self._topics.close()
        self.node.close()
