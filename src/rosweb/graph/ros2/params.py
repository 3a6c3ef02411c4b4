"""rosweb's parameter tree over ROS 2 nodes: ``/<node>/<a>/<b>`` is parameter ``a.b`` of node
``/<node>`` (its fully qualified name, namespace included).

ROS 2 parameters live on nodes and are reached through each node's rcl_interfaces services, so
a name resolves to the longest node name it starts with, among the nodes that provide
``~/get_parameters`` and rosweb's own node (whose parameters stay in this process and are
served to the graph). A name under no such node is not found. Listing asks every such node
(concurrently, ``PARAM_TIMEOUT`` s each) and is kept ``LIST_TTL`` s; descriptors with ranges
become ``param_meta`` (``min``, ``max``, ``step``, ``description``, ``read_only``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rosweb.errors import GraphError, NotFoundError, RosWebError, ValidationError
from rosweb.graph.params import join_name, split_name
from rosweb.graph.ros2 import keys
from rosweb.graph.ros2.cache import GraphCache
from rosweb.graph.ros2.paramserver import NOT_SET, ParamStore, from_value, to_value
from rosweb.messages import Message

__all__ = ["LIST_TTL", "PARAM_TIMEOUT", "RemoteParams"]

PARAM_TIMEOUT = 2.0
LIST_TTL = 1.0
Call = Callable[[str, Message, float], Message]


class RemoteParams:
    def __init__(self, own: str, store: ParamStore, cache: GraphCache, call: Call) -> None:
        self.own = own
        self.store = store
        self.cache = cache
        self._call = call
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="rosweb-ros2-params")
        self._listed: tuple[float, list[str], dict[str, dict[str, Any]]] | None = None
        self._lock = threading.Lock()

    # -- resolution -----------------------------------------------------------------------------

    def nodes(self) -> list[str]:
        """Nodes with parameter services, rosweb's own first."""
        servers = {
            e.name[: -len("/get_parameters")]
            for e in self.cache.entities((keys.SERVICE,))
            if e.name.endswith("/get_parameters")
        }
        return [self.own, *sorted(servers - {self.own})]

    def resolve(self, name: str) -> tuple[str, str]:
        """``/node/a/b`` -> (``/node``, ``a.b``); NotFoundError when no node holds it."""
        parts = split_name(name)
        for node in sorted(self.nodes(), key=len, reverse=True):
            node_parts = split_name(node)
            if parts[: len(node_parts)] == node_parts and len(parts) > len(node_parts):
                return node, ".".join(parts[len(node_parts) :])
        raise NotFoundError("param", join_name(parts))

    def _service(self, node: str, name: str, request: Message) -> Message:
        try:
            return self._call(f"{node}/{name}", request, PARAM_TIMEOUT)
        except RosWebError as err:
            raise GraphError(f"parameters of {node}: {err}") from err

    # -- one parameter --------------------------------------------------------------------------

    def _type(self, node: str, param: str) -> int:
        if node == self.own:
            return self.store.type_of(param)
        answer = self._service(node, "get_parameter_types", {"names": [param]})
        return answer["types"][0] if answer["types"] else NOT_SET

    def _get_one(self, node: str, param: str) -> Any:
        if node == self.own:
            value = self.store.value(param)
        else:
            values = self._service(node, "get_parameters", {"names": [param]})["values"]
            value = values[0] if values else {"type": NOT_SET}
        return from_value(value)

    def _set_one(self, node: str, param: str, value: Any, name: str) -> None:
        encoded = to_value(value, self._type(node, param)) if value is not None else to_value(None)
        if node == self.own:
            ok, reason = self.store.set(param, encoded)
        else:
            request = {"parameters": [{"name": param, "value": encoded}]}
            results = self._service(node, "set_parameters", request)["results"]
            ok, reason = (
                (results[0]["successful"], results[0]["reason"]) if results else (False, "")
            )
        if not ok:
            raise ValidationError(reason or "refused by the node", name)
        self._listed = None

    # -- the tree -------------------------------------------------------------------------------

    def get(self, name: str) -> Any:
        try:
            node, param = self.resolve(name)
            value = self._get_one(node, param)
            if value is not None:
                return value
        except NotFoundError:
            pass
        prefix = join_name(split_name(name))
        inside = [n for n in self.names() if prefix == "/" or n.startswith(prefix + "/")]
        if not inside:
            raise NotFoundError("param", prefix)
        tree: dict[str, Any] = {}
        for full in inside:
            node, param = self.resolve(full)
            value = self._get_one(node, param)
            branch = tree
            rest = split_name(full)[len(split_name(prefix)) :]
            for part in rest[:-1]:
                branch = branch.setdefault(part, {})
            branch[rest[-1]] = value
        return tree

    def set(self, name: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                self.set(join_name([*split_name(name), *split_name(key)]), item)
            return
        if value is None:
            raise ValidationError("a ROS 2 parameter cannot be set to null", name)
        node, param = self.resolve(name)
        self._set_one(node, param, value, join_name(split_name(name)))

    def delete(self, name: str) -> None:
        prefix = join_name(split_name(name))
        leaves = [n for n in self.names() if n == prefix or n.startswith(prefix + "/")]
        if not leaves:
            raise NotFoundError("param", prefix)
        for leaf in leaves:
            node, param = self.resolve(leaf)
            self._set_one(node, param, None, leaf)

    # -- listing and meta -----------------------------------------------------------------------

    def _node_listing(self, node: str) -> tuple[list[str], dict[str, dict[str, Any]]]:
        if node == self.own:
            names = self.store.names()
            descriptors = [self.store.describe(n) for n in names]
        else:
            names = self._service(node, "list_parameters", {"prefixes": [], "depth": 0})["result"][
                "names"
            ]
            descriptors = self._service(node, "describe_parameters", {"names": names})[
                "descriptors"
            ]
        base = node.rstrip("/")
        full = [f"{base}/{n.replace('.', '/')}" for n in names]
        meta = {f: _meta(d) for f, d in zip(full, descriptors, strict=False) if _meta(d)}
        return full, meta

    def _listing(self) -> tuple[list[str], dict[str, dict[str, Any]]]:
        with self._lock:
            listed = self._listed
            if listed is not None and time.monotonic() - listed[0] < LIST_TTL:
                return listed[1], listed[2]
        names: list[str] = []
        meta: dict[str, dict[str, Any]] = {}
        futures = [self._pool.submit(self._node_listing, node) for node in self.nodes()]
        for future in futures:
            try:
                node_names, node_meta = future.result(timeout=PARAM_TIMEOUT * 2 + 1)
            except Exception:  # a node that does not answer is left out of the listing
                continue
            names.extend(node_names)
            meta.update(node_meta)
        with self._lock:
            self._listed = (time.monotonic(), sorted(names), meta)
        return sorted(names), meta

    def names(self) -> list[str]:
        return self._listing()[0]

    def meta(self) -> dict[str, dict[str, Any]]:
        return self._listing()[1]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _meta(descriptor: Message) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    ranges = descriptor.get("floating_point_range") or descriptor.get("integer_range") or []
    if ranges:
        meta.update(min=ranges[0]["from_value"], max=ranges[0]["to_value"])
        if ranges[0]["step"]:
            meta["step"] = ranges[0]["step"]
    if descriptor.get("description"):
        meta["description"] = descriptor["description"]
    if descriptor.get("read_only"):
        meta["read_only"] = True
    return meta
