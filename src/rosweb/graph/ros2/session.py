"""The Zenoh side of ``ros2://``: the session rmw_zenoh would open, and the embedded router.

The session is configured as rmw_zenoh's default session configuration says: peer mode,
connected to the router (``tcp/127.0.0.1:7447`` unless the URL names another), multicast
scouting off, gossip scouting on (peers find each other through the router and then talk
directly), timestamping on (the advanced publisher behind TRANSIENT_LOCAL needs it). Zenoh
reconnects to a router that went away and restarted, and re-sends every declaration (tokens,
subscribers, queryables) over the new link by itself; :class:`Link` counts those reconnections
for ``health()``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import zenoh

from rosweb.errors import BackendUnavailable
from rosweb.graph.ros2.options import Ros2Options

__all__ = ["Link"]

log = logging.getLogger(__name__)

#: reconnection to a lost router: first retry after this many ms, doubling up to the maximum
RETRY_INIT_MS, RETRY_MAX_MS = 250, 2000


def _config(mode: str, listen: list[str], connect: list[str], wait: float) -> zenoh.Config:
    config = zenoh.Config()
    config.insert_json5("mode", json.dumps(mode))
    config.insert_json5("listen/endpoints", json.dumps(listen))
    config.insert_json5("connect/endpoints", json.dumps(connect))
    config.insert_json5("scouting/multicast/enabled", "false")
    config.insert_json5("scouting/gossip/enabled", "true")
    config.insert_json5("timestamping/enabled", "true")
    if mode == "peer":
        config.insert_json5("connect/timeout_ms", json.dumps({"peer": int(wait * 1000)}))
        config.insert_json5("connect/exit_on_failure", json.dumps({"peer": False}))
        config.insert_json5(
            "connect/retry",
            json.dumps(
                {
                    "period_init_ms": RETRY_INIT_MS,
                    "period_max_ms": RETRY_MAX_MS,
                    "period_increase_factor": 2,
                }
            ),
        )
    return config


class Link:
    """One Zenoh session (and the router, when embedded) for the lifetime of a graph."""

    def __init__(self, options: Ros2Options) -> None:
        self.options = options
        self.router: zenoh.Session | None = None
        if options.embedded:
            try:
                self.router = zenoh.open(_config("router", [options.router], [], options.wait))
            except zenoh.ZError as err:
                raise BackendUnavailable(
                    f"cannot start the embedded Zenoh router on {options.router}: {err}"
                ) from err
        try:
            self.session = zenoh.open(
                _config("peer", [options.listen], [options.router], options.wait)
            )
        except zenoh.ZError as err:
            self._close_router()
            raise BackendUnavailable(f"cannot open a Zenoh session: {err}") from err
        self.zid = str(self.session.info.zid())
        self.liveliness = self.session.liveliness()
        self._lock = threading.Lock()
        self._connected = bool(self.session.info.routers_zid())
        self._since = time.monotonic()
        self.reconnections = 0
        self.closed = False

    def router_connected(self) -> bool:
        """Whether the session has a link to a router now (and count the times it came back)."""
        connected = bool(not self.closed and self.session.info.routers_zid())
        with self._lock:
            if connected != self._connected:
                if connected:
                    self.reconnections += 1
                    log.info("ros2://: Zenoh router %s is back", self.options.router)
                else:
                    log.warning("ros2://: lost the Zenoh router %s", self.options.router)
                self._connected, self._since = connected, time.monotonic()
        return connected

    def health(self) -> dict[str, Any]:
        connected = self.router_connected()
        info = self.session.info if not self.closed else None
        return {
            "router": self.options.router,
            "router_mode": "embedded" if self.options.embedded else "connect",
            "router_connected": connected,
            "router_state_for": round(time.monotonic() - self._since, 1),
            "router_reconnections": self.reconnections,
            "peers": len(info.peers_zid()) if info is not None else 0,
            "zid": self.zid,
        }

    def _close_router(self) -> None:
        if self.router is not None:
            self.router.close()  # type: ignore[no-untyped-call]
            self.router = None

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.session.close()  # type: ignore[no-untyped-call]
        finally:
            self._close_router()
