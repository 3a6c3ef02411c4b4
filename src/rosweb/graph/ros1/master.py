"""The ROS master's XML-RPC API with a timeout (rospy's own calls have none), raising rosweb
errors: BackendUnavailable when it cannot be reached, MasterRefused when it answers an error."""

from __future__ import annotations

import xmlrpc.client
from typing import Any

from rosweb.errors import BackendUnavailable, GraphError, MessageError, NotFoundError
from rosweb.graph.base import Connections, normalize_name

__all__ = ["MASTER_TIMEOUT", "Master", "MasterQueries", "MasterRefused"]

MASTER_TIMEOUT = 3.0  # seconds for one XML-RPC call to the master


class _TimeoutTransport(xmlrpc.client.Transport):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host: Any) -> Any:
        connection = super().make_connection(host)
        connection.timeout = self.timeout
        return connection


class Master:
    """The master's XML-RPC API, with a timeout, raising rosweb errors."""

    def __init__(self, uri: str, caller_id: str, timeout: float = MASTER_TIMEOUT) -> None:
        self.uri = uri
        self.caller_id = caller_id
        self._timeout = timeout

    def call(self, method: str, *args: Any) -> Any:
        try:
            with xmlrpc.client.ServerProxy(
                self.uri, transport=_TimeoutTransport(self._timeout)
            ) as proxy:
                code, message, value = getattr(proxy, method)(self.caller_id, *args)
        except (TimeoutError, OSError, xmlrpc.client.ProtocolError) as err:
            raise BackendUnavailable(f"ROS master at {self.uri} is unreachable: {err}") from err
        except xmlrpc.client.Fault as err:
            raise GraphError(f"ROS master refused {method}: {err.faultString}") from err
        if code != 1:
            raise MasterRefused(message)
        return value


class MasterRefused(GraphError):
    """The master answered with an error code (unknown param, unknown service...)."""


class MasterQueries:
    """Parameters and introspection, asked of the master (a mixin of the ROS 1 graph)."""

    _master: Master

    def get_param(self, name: str) -> Any:
        name = normalize_name(name)
        try:
            return self._master.call("getParam", name)
        except MasterRefused:
            raise NotFoundError("param", name) from None

    def set_param(self, name: str, value: Any) -> None:
        try:
            self._master.call("setParam", normalize_name(name), value)
        except (TypeError, OverflowError) as err:  # XML-RPC cannot carry it (null, big ints)
            raise MessageError(f"parameter {name}: {err}") from err

    def delete_param(self, name: str) -> None:
        name = normalize_name(name)
        try:
            self._master.call("deleteParam", name)
        except MasterRefused:
            raise NotFoundError("param", name) from None

    def param_names(self) -> list[str]:
        return sorted(self._master.call("getParamNames"))

    # -- introspection --------------------------------------------------------------------------

    def _topic_types(self) -> dict[str, str]:
        return dict(self._master.call("getTopicTypes"))

    def topic_type(self, name: str) -> str:
        name = normalize_name(name)
        type_name = self._topic_types().get(name)
        if not type_name:
            raise NotFoundError("topic", name)
        return type_name

    def topics(self) -> dict[str, str]:
        publishers, subscribers, _ = self._master.call("getSystemState")
        types = self._topic_types()
        names = {topic for topic, _ in publishers} | {topic for topic, _ in subscribers}
        return {name: types.get(name, "") for name in sorted(names)}

    def nodes(self) -> list[str]:
        state = self._master.call("getSystemState")
        return sorted({node for kind in state for _, nodes in kind for node in nodes})

    def connections(self) -> Connections:
        publishers, subscribers, services = self._master.call("getSystemState")

        def table(rows: list[list[Any]]) -> dict[str, list[str]]:
            return {name: sorted(nodes) for name, nodes in sorted(rows)}

        return Connections(table(publishers), table(subscribers), table(services))
