"""The Flask extension: ``RosWeb(app)`` or ``RosWeb()`` + ``init_app(app)``.

``init_app`` starts the robot side at once (never lazily on a first request): the backend named by
``ROSWEB_BACKEND`` (or the ``graph`` given to the constructor), the hub and the teleop deadman.
Its state lives in ``app.extensions["rosweb"]``. Under ``flask run`` with the reloader, the
watching parent process never serves a request, so no node starts there: only the serving child
runs one.

Your code declares on the extension, before or after ``init_app``: ``rw.property(...)`` makes a
Python value of yours a parameter (:mod:`rosweb.core.properties`), ``@rw.subscriber(topic)`` a
function called for each message. ``init_app`` also makes the widgets' macros importable from
the app's templates (:mod:`rosweb.web.widgets`).
"""

from __future__ import annotations

import atexit
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, overload

import click
from flask import Flask, current_app, has_app_context
from werkzeug.serving import is_running_from_reloader

from rosweb import config
from rosweb.core import GuardedRobot, Robot, Subscription
from rosweb.core.audit import Audit
from rosweb.core.bridge import BridgeOptions
from rosweb.core.properties import Getter, Property, Setter
from rosweb.errors import ConfigError, NotFoundError
from rosweb.graph import Graph
from rosweb.hub import Envelope
from rosweb.web.api import api
from rosweb.web.api_stats import register_insight
from rosweb.web.bridge.transport_flask import register_bridge_route
from rosweb.web.errors import register_error_handlers
from rosweb.web.login import init_security
from rosweb.web.state import RosWebState, get_state, request_robot
from rosweb.web.stream import stream_blueprint
from rosweb.web.video import init_video
from rosweb.web.webrtc import register_video_routes
from rosweb.web.widgets import register_widgets

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


@dataclass(frozen=True)
class _Subscriber:
    topic: str
    callback: Callable[[Any], Any]
    type_name: str | None
    throttle_rate: float
    queue_length: int


class RosWeb:
    """Puts a robot node inside a Flask app.

    ``rw = RosWeb(app)`` (or ``RosWeb()`` then ``rw.init_app(app)``); ``rw.robot`` is the app's
    robot for your own code (see :attr:`robot`). ``graph=`` injects a backend you made (you keep
    owning it); otherwise ``ROSWEB_BACKEND`` names it.
    """

    def __init__(self, app: Flask | None = None, *, graph: Graph | None = None) -> None:
        self._graph = graph
        self._app: Flask | None = None
        #: what the app's code declared: registered on the robot of every app initialised
        self._properties: list[Property] = []
        self._subscribers: list[_Subscriber] = []
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
        register_widgets(app)
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
        try:
            for prop in self._properties:
                robot.properties.add(prop)
            for subscriber in self._subscribers:
                self._start(state, subscriber)
        except BaseException:
            state.close()
            raise

    # -- your own code: properties, subscribers -------------------------------------------------

    def _state(self) -> RosWebState | None:
        """The state of the app initialised (None before init_app, or in a reloader watcher)."""
        app = current_app._get_current_object() if has_app_context() else self._app  # type: ignore[attr-defined]
        if app is None:
            return None
        state: RosWebState | None = app.extensions.get("rosweb")
        return state

    def subscriber(
        self,
        topic: str,
        *,
        throttle_rate: float = 0.0,
        queue_length: int = 10,
        type_name: str | None = None,
    ) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
        """Decorator: call the function with each message of ``topic`` (a dict in rosweb's
        Python form; read it, do not change it), at most one per ``throttle_rate`` ms, on a
        thread of its own (never the middleware's); the newest ``queue_length`` wait while it
        runs. An exception is logged with the topic and the feed goes on. ``type_name`` for a
        topic that may not exist yet."""

        def decorate(callback: Callable[[Any], Any]) -> Callable[[Any], Any]:
            subscriber = _Subscriber(topic, callback, type_name, throttle_rate, queue_length)
            self._subscribers.append(subscriber)
            state = self._state()
            if state is not None:
                self._start(state, subscriber)
            return callback

        return decorate

    @staticmethod
    def _start(state: RosWebState, subscriber: _Subscriber) -> None:
        callback = subscriber.callback

        def deliver(envelope: Envelope) -> None:
            callback(envelope.msg)

        try:
            subscription: Subscription = state.robot.local.subscribe(
                subscriber.topic, deliver, type_name=subscriber.type_name,
                throttle_rate=subscriber.throttle_rate, queue_length=subscriber.queue_length,
            )  # fmt: skip
        except NotFoundError as err:
            raise ConfigError(
                f"@rw.subscriber({subscriber.topic!r}): {err}; give type_name= for a topic "
                "that is not there yet"
            ) from err
        state.subscriptions.append(subscription)

    @property
    def user_robot(self) -> GuardedRobot:
        """Inside a request: the robot as the request's user may use it (their role, the
        allow/deny lists of their role, their control lease), where :attr:`robot` is the app's
        own trusted code."""
        return request_robot("app")

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

    # defined last: in the class body after it, ``property`` is this method
    @overload
    def property(
        self,
        name: str,
        getter: Getter,
        setter: Setter | None = None,
        *,
        type: type | str = float,
        min: float | None = None,
        max: float | None = None,
        step: float | None = None,
        unit: str = "",
        description: str = "",
        choices: Iterable[Any] | None = None,
    ) -> Property: ...

    @overload
    def property(
        self,
        name: str,
        getter: None = None,
        setter: None = None,
        *,
        type: type | str = float,
        min: float | None = None,
        max: float | None = None,
        step: float | None = None,
        unit: str = "",
        description: str = "",
        choices: Iterable[Any] | None = None,
    ) -> Callable[[Getter], Property]: ...

    def property(
        self,
        name: str,
        getter: Getter | None = None,
        setter: Setter | None = None,
        *,
        type: type | str = float,
        min: float | None = None,
        max: float | None = None,
        step: float | None = None,
        unit: str = "",
        description: str = "",
        choices: Iterable[Any] | None = None,
    ) -> Property | Callable[[Getter], Property]:
        """Expose one of your Python values as the parameter ``name``: ``GET /api/params``
        lists it with its meta, ``GET``/``PUT /api/params/<name>`` (rosapi, the client, the
        CLI, the Params tab, the macros) read it with ``getter()`` and write it with
        ``setter(value)`` after checking ``type`` (float, int, bool, str), ``min``/``max`` and
        ``choices`` (422 naming the reason); roles, allow/deny lists and the audit apply.
        ``setter=None``: read-only. Without ``getter``: a decorator of the getter, the setter
        then given with ``@prop.setter``."""
        options: dict[str, Any] = {
            "type": type, "min": min, "max": max, "step": step, "unit": unit,
            "description": description, "choices": choices,
        }  # fmt: skip

        def declare(function: Getter) -> Property:
            prop = Property(name, function, setter, **options)
            self._properties.append(prop)
            state = self._state()
            if state is not None:
                state.robot.properties.add(prop)
            return prop

        return declare if getter is None else declare(getter)
