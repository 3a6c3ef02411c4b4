"""The native Tornado handlers of ``rosweb run``: the long-lived endpoints.

Tornado's WSGI container buffers whole responses, so WebSockets and endless streams are served by
handlers of their own in front of it; each wraps the same core as its Flask route. Their routes
match the percent-decoded path (:class:`DecodedPath`): ``/stream/cam%2Emjpg`` reaches the same
handler as ``/stream/cam.mjpg``, never the Flask route inside the container.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import tornado.httputil
import tornado.routing
from flask import Flask

from rosweb.server.bridge import BridgeWebSocket
from rosweb.server.mjpeg import MjpegHandler
from rosweb.server.sse import SseHandler

__all__ = ["DecodedPath", "rosbridge_handlers", "tornado_handlers"]


class DecodedPath(tornado.routing.PathMatches):
    """A route that matches the request's path after percent-decoding it."""

    def match(self, request: tornado.httputil.HTTPServerRequest) -> dict[str, Any] | None:
        path = urllib.parse.unquote(request.path or "")
        found = self.regex.match(path)
        if found is None:
            return None
        if not self.regex.groups:
            return {}
        # handlers unquote their arguments again: quote what we decoded, exactly once
        args = [urllib.parse.quote(g, safe="/") if g is not None else None for g in found.groups()]
        return {"path_args": args, "path_kwargs": {}}


#: a fleet server's scope of one robot (see rosweb.web.fleet): same handlers under it
FLEET_SCOPE = r"(?:/robots/[A-Za-z][A-Za-z0-9_-]{0,62})?"


def _route(pattern: str, handler: Any, kwargs: dict[str, Any]) -> tornado.routing.Rule:
    return tornado.routing.Rule(DecodedPath(re.compile(pattern + "$").pattern), handler, kwargs)


def tornado_handlers(app: Flask) -> list[Any]:
    """Handlers to put in front of the app's WSGI container (none in a process without node)."""
    state = app.extensions.get("rosweb")
    if state is None:
        return []
    stall = app.config["ROSWEB_WS_STALL_TIMEOUT"]
    options = {"state": state, "stall_timeout": stall}
    scope = FLEET_SCOPE if state.robot.fleet is not None else ""  # /robots/<name>/... too
    return [
        _route(scope + app.config["ROSWEB_BRIDGE_PATH"], BridgeWebSocket, options),
        _route(scope + r"/api/topics/(.+)/events", SseHandler, options),
        _route(scope + r"/stream/(.+)\.mjpg", MjpegHandler, options),
    ]


def rosbridge_handlers(app: Flask) -> list[Any]:
    """The rosbridge protocol at the root path, for a port of its own (``ws://robot:9090``)."""
    state = app.extensions["rosweb"]
    stall = app.config["ROSWEB_WS_STALL_TIMEOUT"]
    return [_route(r"/", BridgeWebSocket, {"state": state, "stall_timeout": stall})]
