"""The robot side: the :class:`Graph` interface and its backends, chosen by URL.

``sim://`` (default) is the embedded simulated robot. More schemes register themselves in
:data:`BACKENDS` as they are written (``ros1://``, ``agent://``).
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


#: URL scheme -> factory. Backends import lazily so a missing optional dependency (rospy)
#: only matters when its scheme is asked for.
BACKENDS: dict[str, Callable[[str], Graph]] = {"sim": _sim}


def connect(url: str = "sim://") -> Graph:
    """Make the backend a URL names: ``sim://``, later ``ros1://``, ``agent://...``."""
    scheme = urlsplit(url).scheme
    factory = BACKENDS.get(scheme)
    if factory is None:
        known = ", ".join(f"{name}://" for name in sorted(BACKENDS))
        raise ConfigError(f"unknown backend {url!r}: expected one of {known}")
    return factory(url)
