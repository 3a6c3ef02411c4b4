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
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

import click
from flask import Flask, current_app
from werkzeug.serving import is_running_from_reloader

from rosweb import config
from rosweb.control import Control, Teleop
from rosweb.graph import Graph, connect, normalize_name
from rosweb.hub import Hub
from rosweb.web.audit import Audit
from rosweb.web.bridge import BridgeOptions
from rosweb.web.errors import ApiError, register_error_handlers
from rosweb.web.security import Gate, init_security
from rosweb.web.stream import Streams

__all__ = ["RosWeb", "RosWebState", "get_state"]

log = logging.getLogger(__name__)


@dataclass
class RosWebState:
    """Everything the web side uses, per app."""

    graph: Graph
    hub: Hub
    control: Control  # teleop, deadman, lease, e-stop, limits
    owns_graph: bool
    streams: Streams  # camera encoders
    gate: Gate  # authentication, roles, allow/deny lists, rate limits, audit
    bridge_options: BridgeOptions = field(default_factory=BridgeOptions)
    #: runs rosbridge service calls (they block) off the sockets' threads
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(32, thread_name_prefix="rosweb-bridge")
    )
    #: parameter metadata declared in the config (ROSWEB_PARAM_META), over the backend's
    declared_param_meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    owns_control: bool = True  # False when the agent process holds the control state
    started: float = field(default_factory=time.time)
    _closed: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def teleop(self) -> Teleop:
        """The deadman of the teleop topic (in-process control only)."""
        return self.control.teleop

    def param_meta(self) -> dict[str, dict[str, Any]]:
        """Ranges, units and descriptions of parameters: the backend's (the sim declares its
        own), then the config's, name by name."""
        meta = {name: dict(info) for name, info in self.graph.param_meta().items()}
        for name, info in self.declared_param_meta.items():
            meta.setdefault(normalize_name(name), {}).update(info)
        return meta

    def close(self) -> None:
        """Stop the deadman (with a last stop), the hub, then the backend if we made it."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self.owns_control:
            self.control.close()
        self.gate.audit.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.streams.close()
        self.hub.close()
        if self.owns_graph:
            self.graph.close()


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
    """Puts a robot node inside a Flask app."""

    def __init__(self, app: Flask | None = None, *, graph: Graph | None = None) -> None:
        self._graph = graph
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if "rosweb" in app.extensions:
            raise RuntimeError("RosWeb is already initialised on this app")
        app.config.update(
            config.load({k: v for k, v in app.config.items() if k.startswith("ROSWEB_")})
        )
        register_error_handlers(app)
        audit = Audit(
            app.config["ROSWEB_AUDIT_LOG"],
            max_bytes=app.config["ROSWEB_AUDIT_LOG_MAX_BYTES"],
            backups=app.config["ROSWEB_AUDIT_LOG_BACKUPS"],
        )
        gate = init_security(app, app.config, audit)
        from rosweb.web.api import api
        from rosweb.web.api_stats import register_insight
        from rosweb.web.bridge.transport_flask import register_bridge_route
        from rosweb.web.stream import stream_blueprint

        app.register_blueprint(api)
        register_insight(app)
        app.register_blueprint(stream_blueprint)
        register_bridge_route(app)
        if _is_reloader_watcher(app):
            log.info("reloader watcher process: the robot node starts in the serving process")
            app.extensions["rosweb"] = None
            return
        state = self._start(app, gate)
        app.extensions["rosweb"] = state
        atexit.register(state.close)

    def _start(self, app: Flask, gate: Gate) -> RosWebState:
        cfg = app.config
        graph = self._graph or connect(cfg["ROSWEB_BACKEND"])
        shared = getattr(graph, "shared_state", None)
        control = cast(Control | None, shared("control") if callable(shared) else None)
        owns_control = control is None
        try:
            if control is None:
                control = Control.from_settings(graph, cfg)
        except BaseException:
            if self._graph is None:
                graph.close()
            raise
        patterns = [p.strip() for p in cfg["ROSWEB_CACHE_TOPICS"].split(",") if p.strip()]
        hub = Hub(graph, cache_ttl=cfg["ROSWEB_CACHE_TTL"], cache_topics=patterns)
        options = BridgeOptions(
            queue_length=cfg["ROSWEB_BRIDGE_QUEUE_LENGTH"],
            service_timeout=cfg["ROSWEB_SERVICE_TIMEOUT"],
            max_message_size=cfg["ROSWEB_MAX_WS_MESSAGE"],
        )
        return RosWebState(
            graph, hub, control, self._graph is None, Streams(hub), gate, options,
            declared_param_meta=cfg["ROSWEB_PARAM_META"], owns_control=owns_control,
        )  # fmt: skip

    @staticmethod
    def close(app: Flask) -> None:
        """Shut the robot side of ``app`` down (also done at interpreter exit)."""
        state = app.extensions.get("rosweb")
        if state is not None:
            state.close()


def get_state() -> RosWebState:
    """The current app's rosweb state; 503 in a process that runs no node."""
    state: RosWebState | None = current_app.extensions.get("rosweb")
    if state is None:
        raise ApiError(503, "no_node", "this process runs no robot node (reloader watcher)")
    return state
