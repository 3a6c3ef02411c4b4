"""The Flask extension: ``RosWeb(app)`` or ``RosWeb()`` + ``init_app(app)``.

``init_app`` starts the robot side at once (never lazily on a first request): the backend named by
``ROSWEB_BACKEND`` (or the ``graph`` given to the constructor), the hub and the teleop deadman.
Its state lives in ``app.extensions["rosweb"]``. Under ``flask run`` with the reloader, the
watching parent process never serves a request, so no node starts there: only the serving child
runs one.
"""

from __future__ import annotations

import atexit
import logging

import click
from flask import Flask, current_app, has_app_context
from werkzeug.serving import is_running_from_reloader

from rosweb import config
from rosweb.core import GuardedRobot, Robot
from rosweb.core.audit import Audit
from rosweb.core.bridge import BridgeOptions
from rosweb.graph import Graph
from rosweb.web.api import api
from rosweb.web.api_stats import register_insight
from rosweb.web.bridge.transport_flask import register_bridge_route
from rosweb.web.errors import register_error_handlers
from rosweb.web.login import init_security
from rosweb.web.state import RosWebState, get_state
from rosweb.web.stream import stream_blueprint
from rosweb.web.video import init_video
from rosweb.web.webrtc import register_video_routes

__all__ = ["RosWeb", "RosWebState", "get_state"]

log = logging.getLogger(__name__)


def _is_reloader_watcher(app: Flask) -> bool:
    """True in the parent process of ``flask run`` with the reloader (it only watches files)."""
    if is_running_from_reloader():
        return False
    ctx = click.get_current_context(silent=True)
    if ctx is None or ctx.command.name != "run" or "reload" not in ctx.params:
        return False
    reload = ctx.params["reload"]
    return bool(app.debug if reload is None else reload)


class RosWeb:
    """Puts a robot node inside a Flask app.

    ``rw = RosWeb(app)`` (or ``RosWeb()`` then ``rw.init_app(app)``); ``rw.robot`` is the app's
    robot for your own code (see :attr:`robot`). ``graph=`` injects a backend you made (you keep
    owning it); otherwise ``ROSWEB_BACKEND`` names it.
    """

    def __init__(self, app: Flask | None = None, *, graph: Graph | None = None) -> None:
        self._graph = graph
        self._app: Flask | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if "rosweb" in app.extensions:
            raise RuntimeError("RosWeb is already initialised on this app")
        app.config.update(
            config.load({k: v for k, v in app.config.items() if k.startswith("ROSWEB_")})
        )
        register_error_handlers(app)
        cfg = app.config
        audit = Audit(
            cfg["ROSWEB_AUDIT_LOG"],
            max_bytes=cfg["ROSWEB_AUDIT_LOG_MAX_BYTES"],
            backups=cfg["ROSWEB_AUDIT_LOG_BACKUPS"],
        )
        gate = init_security(app, cfg, audit)
        app.register_blueprint(api)
        register_insight(app)
        app.register_blueprint(stream_blueprint)
        register_bridge_route(app)
        register_video_routes(app)
        self._app = app  # for rw.robot outside any app context (threads); state stays in extensions
        if _is_reloader_watcher(app):
            log.info("reloader watcher process: the robot node starts in the serving process")
            app.extensions["rosweb"] = None
            return
        robot = Robot.from_settings(cfg, graph=self._graph, audit=audit)
        state = RosWebState(
            robot,
            gate,
            BridgeOptions(
                queue_length=cfg["ROSWEB_BRIDGE_QUEUE_LENGTH"],
                service_timeout=cfg["ROSWEB_SERVICE_TIMEOUT"],
                max_message_size=cfg["ROSWEB_MAX_WS_MESSAGE"],
            ),
            max_waiting_reads=cfg["ROSWEB_MAX_WAITING_READS"],
        )
        try:
            state.closers.append(init_video(app, state).close)  # --input, WebRTC
        except BaseException:
            state.close()
            raise
        app.extensions["rosweb"] = state
        atexit.register(state.close)

    @property
    def robot(self) -> GuardedRobot:
        """The app's robot for your own routes, CLI commands and threads: trusted local code
        (every name is visible to it), still guarded for motion (a Twist to a command topic
        goes through the e-stop, the lease, the limits and the deadman)."""
        app = current_app._get_current_object() if has_app_context() else self._app  # type: ignore[attr-defined]
        if app is None or "rosweb" not in app.extensions:
            raise RuntimeError("RosWeb is not initialised on an app yet (init_app)")
        state: RosWebState | None = app.extensions.get("rosweb")
        if state is None:
            raise RuntimeError("this process runs no robot node (the reloader's watcher)")
        return state.robot.local

    @staticmethod
    def close(app: Flask) -> None:
        """Shut the robot side of ``app`` down (also done at interpreter exit)."""
        state = app.extensions.get("rosweb")
        if state is not None:
            state.close()
