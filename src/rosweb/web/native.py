"""The native Tornado handlers of ``rosweb run``: the long-lived endpoints.

Tornado's WSGI container buffers whole responses, so WebSockets and endless streams are served by
handlers of their own in front of it; each wraps the same core as its Flask route.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from rosweb.web.bridge.transport_tornado import BridgeWebSocket
from rosweb.web.sse import SseHandler
from rosweb.web.stream import MjpegHandler

__all__ = ["rosbridge_handlers", "tornado_handlers"]


def tornado_handlers(app: Flask) -> list[tuple[str, Any, dict[str, Any]]]:
    """Handlers to put in front of the app's WSGI container (none in a process without node)."""
    state = app.extensions.get("rosweb")
    if state is None:
        return []
    stall = app.config["ROSWEB_WS_STALL_TIMEOUT"]
    return [
        (
            app.config["ROSWEB_BRIDGE_PATH"],
            BridgeWebSocket,
            {"state": state, "stall_timeout": stall},
        ),
        (r"/api/topics/(.+)/events", SseHandler, {"state": state}),
        (r"/stream/(.+)\.mjpg", MjpegHandler, {"state": state}),
    ]


def rosbridge_handlers(app: Flask) -> list[tuple[str, Any, dict[str, Any]]]:
    """The rosbridge protocol at the root path, for a port of its own (``ws://robot:9090``)."""
    state = app.extensions["rosweb"]
    stall = app.config["ROSWEB_WS_STALL_TIMEOUT"]
    return [(r"/", BridgeWebSocket, {"state": state, "stall_timeout": stall})]
