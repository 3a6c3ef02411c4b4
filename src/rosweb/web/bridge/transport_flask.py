"""The rosbridge endpoint as a Flask route (flask-sock), for ``flask run`` and WSGI servers.

Under ``rosweb run`` the native Tornado handler of :mod:`rosweb.server.bridge` answers the same path
first; this route serves apps that use ``RosWeb(app)`` in their own server. Each socket holds a
thread for its life (the WSGI way) plus a sender thread.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

from flask import Flask, current_app, request
from flask_sock import Sock

from rosweb.errors import RosWebError
from rosweb.web.bridge.open import open_session
from rosweb.web.state import get_state

__all__ = ["register_bridge_route"]

log = logging.getLogger(__name__)


def _serve(ws: Any) -> None:
    state = get_state()
    ready = threading.Event()
    if not state.gate.origin_allowed(request.headers.get("Origin"), request.host):
        ws.close(1008, "cross-origin WebSocket refused (ROSWEB_CORS_ORIGINS)")
        return
    try:
        session = open_session(
            state, wake=ready.set, remote=request.remote_addr or "", host=request.host,
            authorization=request.headers.get("Authorization"),
            token=request.args.get("token"),
            cookie=request.cookies.get(current_app.config["SESSION_COOKIE_NAME"]),
            client=request.args.get("client"),
        )  # fmt: skip
    except RosWebError as err:
        ws.close(1008, str(err)[:120])
        return
    raw = ws.sock
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stall = current_app.config["ROSWEB_WS_STALL_TIMEOUT"]
    sending_since: list[float] = []  # set while a frame is being written

    def sender() -> None:
        try:
            while ws.connected:
                ready.wait(1.0)
                ready.clear()
                for frame in session.outgoing():
                    sending_since.append(time.monotonic())
                    ws.send(frame)
                    sending_since.clear()
        except Exception as err:  # the socket went away
            log.debug("rosbridge sender stopped: %s", err)

    thread = threading.Thread(target=sender, name="rosweb-ws-send", daemon=True)
    thread.start()
    try:
        while True:
            data = ws.receive(timeout=1.0)  # raises ConnectionClosed when the client leaves
            if data is not None:
                if not session.refuse_early(data):  # a flood over the rate limit: no work
                    session.receive(data)
            elif sending_since and time.monotonic() - sending_since[0] > stall:
                log.warning("rosbridge client stopped reading: closing")
                raw.shutdown(socket.SHUT_RDWR)  # the blocked send fails, the sender ends
                break
    finally:
        session.close()
        ready.set()


def register_bridge_route(app: Flask) -> None:
    """Serve the rosbridge protocol at ``ROSWEB_BRIDGE_PATH`` through flask-sock."""
    options = app.config.setdefault("SOCK_SERVER_OPTIONS", {})
    options.setdefault("max_message_size", app.config["ROSWEB_MAX_WS_MESSAGE"])
    sock = Sock(app)
    sock.route(app.config["ROSWEB_BRIDGE_PATH"], endpoint="rosweb_bridge")(_serve)
