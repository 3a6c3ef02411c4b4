"""The robot side: the :class:`Graph` interface and its backends, chosen by URL.

``sim://`` (default) is the embedded simulated robot; ``ros1://`` joins a ROS 1 master through
rospy; ``agent://ADDRESS`` talks to the node of an agent process (``rosweb agent``).
More schemes register themselves in :data:`BACKENDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from rosweb.errors import ConfigError
from rosweb.graph.base import Callback, Graph, Handle, ServiceHandler, normalize_name
from rosweb.graph.params import ParamTree

__all__ = [
    "BACKENDS",
    "Callback",
    "Graph",
    "Handle",
    "ParamTree",
    "ServiceHandler",
    "connect",
    "normalize_name",
]


def _sim(url: str) -> Graph:
    from rosweb.graph.sim import SimGraph

    return SimGraph(url)


def _ros1(url: str) -> Graph:
    from rosweb.graph.ros1 import Ros1Graph

    return Ros1Graph(url)


def _ros2(url: str) -> Graph:
    from rosweb.graph.ros2 import Ros2Graph

    return Ros2Graph(url)


def _agent(url: str) -> Graph:
    from rosweb.graph.remote import AgentGraph

    return AgentGraph(url)


def _mqtt(url: str) -> Graph:
    from rosweb.graph.mqtt import FleetGraph

    return FleetGraph(url)


#: URL scheme -> factory. Backends import lazily so a missing optional dependency (rospy)
#: only matters when its scheme is asked for.
BACKENDS: dict[str, Callable[[str], Graph]] = {
    "sim": _sim, "ros1": _ros1, "ros2": _ros2, "agent": _agent, "mqtt": _mqtt, "mqtts": _mqtt,
}  # fmt: skip


def connect(url: str = "sim://") -> Graph:
    """Make the backend a URL names: ``sim://``, ``ros1://``, ``agent://ADDRESS``."""
    scheme = urlsplit(url).scheme
    factory = BACKENDS.get(scheme)
    if factory is None:
        known = ", ".join(f"{name}://" for name in sorted(BACKENDS))
        raise ConfigError(f"unknown backend {url!r}: expected one of {known}")
    return factory(url)
