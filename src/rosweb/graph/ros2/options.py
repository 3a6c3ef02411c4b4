"""``ros2://`` URLs: ``ros2://[host:port][?domain=0&distro=jazzy&node=/rosweb&router=embedded]``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from rosweb.errors import ConfigError
from rosweb.graph.base import normalize_name
from rosweb.messages.store import DISTROS

__all__ = ["Ros2Options", "parse_url"]

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 7447
_KEYS = ("domain", "distro", "node", "router", "listen", "depth", "timeout", "wait")


@dataclass(frozen=True)
class Ros2Options:
    #: the Zenoh router's endpoint (``tcp/127.0.0.1:7447``, rmw_zenohd's default)
    router: str
    #: True: start the router inside rosweb (``?router=embedded``), listening on ``router``
    embedded: bool
    #: ``ROS_DOMAIN_ID``: the first chunk of every key expression
    domain: int
    distro: str
    #: rosweb's node: namespace and name
    namespace: str
    node: str
    #: where this session listens for peer-to-peer links (loopback by default)
    listen: str
    #: history depth of rosweb's subscriptions (and of what they ask latched publishers for)
    depth: int
    #: default seconds a service call waits for its answer
    timeout: float
    #: seconds start-up waits for the router before going on without it (health says so)
    wait: float

    @property
    def node_fqn(self) -> str:
        return f"{self.namespace.rstrip('/')}/{self.node}"


def _number(key: str, value: str, kind: type[int] | type[float], low: float, high: float) -> float:
    try:
        number = kind(value)
    except ValueError:
        raise ConfigError(f"ros2:// option {key} expects a number, got {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"ros2:// option {key} expects a value in [{low}, {high}], got {value}")
    return number


def parse_url(url: str) -> Ros2Options:
    parts = urlsplit(url)
    if parts.scheme != "ros2":
        raise ConfigError(f"not a ros2:// URL: {url!r}")
    if parts.path not in ("", "/"):
        raise ConfigError(f"ros2:// URL has a path ({parts.path!r}): ros2://host:port?options")
    query = {
        key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()
    }
    unknown = sorted(set(query) - set(_KEYS))
    if unknown:
        raise ConfigError(f"ros2:// has no option {unknown[0]!r} ({', '.join(_KEYS)})")
    try:
        host = parts.hostname or DEFAULT_HOST
        port = parts.port or DEFAULT_PORT
    except ValueError as err:
        raise ConfigError(f"ros2:// URL {url!r}: {err}") from None
    router_mode = query.get("router", "connect")
    if router_mode not in ("connect", "embedded"):
        raise ConfigError(f"ros2:// option router expects connect or embedded, got {router_mode!r}")
    distro = query.get("distro", "jazzy")
    if distro not in DISTROS or distro == "noetic":
        known = ", ".join(d for d in DISTROS if d != "noetic")
        raise ConfigError(f"ros2:// option distro expects one of {known}, got {distro!r}")
    domain = int(
        _number("domain", query.get("domain", os.environ.get("ROS_DOMAIN_ID", "0")), int, 0, 232)
    )
    node = normalize_name(query.get("node", "/rosweb"))
    namespace, _, name = node.rpartition("/")
    if not name.replace("_", "a").isalnum() or name[0].isdigit():
        raise ConfigError(f"ros2:// option node: {node!r} is not a valid ROS 2 node name")
    listen = query.get("listen", "tcp/127.0.0.1:0")
    if "/" not in listen:
        raise ConfigError(
            f"ros2:// option listen expects a Zenoh endpoint (tcp/ADDR:PORT), got {listen!r}"
        )
    return Ros2Options(
        router=f"tcp/{host}:{port}",
        embedded=router_mode == "embedded",
        domain=domain,
        distro=distro,
        namespace=namespace or "/",
        node=name,
        listen=listen,
        depth=int(_number("depth", query.get("depth", "10"), int, 1, 10000)),
        timeout=float(_number("timeout", query.get("timeout", "10"), float, 0.01, 3600)),
        wait=float(_number("wait", query.get("wait", "2"), float, 0, 600)),
    )
