"""The Robot: the one way anything in rosweb touches the robot.

A :class:`Robot` owns the backend (a :class:`~rosweb.graph.Graph`, private to it), the
:class:`~rosweb.hub.Hub` that fans its topics out, the control (teleop, deadman, lease,
e-stop, limits; in this process or in the agent's, see :class:`~rosweb.control.ControlPort`),
the policy (roles, allow/deny lists), the audit log and the camera encoders. Nothing reaches the
backend but through :meth:`Robot.bind`: a :class:`~rosweb.core.guard.GuardedRobot` for one
caller, which checks and records everything that caller does.

``Robot.from_settings(settings)`` makes the backend ``ROSWEB_BACKEND`` names; with
``agent://ADDRESS`` the node and the control live in the agent process, and the Robot (and
everything above it) works the same.

:meth:`Robot.add_property` makes one of your Python values a parameter (see
:mod:`rosweb.core.properties`). ``ROSWEB_PARAMS`` (the ``[params]`` table of the config) gives
parameters and properties their values at start, so a restart restores them: the backend's at
once, a property's when it is registered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from rosweb import config
from rosweb.control import Control, ControlPort
from rosweb.core.audit import Audit
from rosweb.core.camera import Streams
from rosweb.core.fleet import FleetPort
from rosweb.core.guard import GuardedRobot
from rosweb.core.parts import RobotParts
from rosweb.core.policy import LOCAL, Caller, Policy
from rosweb.core.properties import Getter, Properties, Property, Setter
from rosweb.errors import ConfigError, NotFoundError, RosWebError
from rosweb.graph import Graph, connect, normalize_name
from rosweb.hub import Hub

__all__ = ["Robot"]

log = logging.getLogger(__name__)


def _open_backend(url: str, settings: Mapping[str, Any]) -> tuple[Graph, ControlPort | None]:
    """The backend of ``url`` and, for ``agent://``, the control the agent serves."""
    if urlsplit(url).scheme == "agent":
        from rosweb.control.remote import RemoteControl
        from rosweb.graph.remote import AgentGraph

        graph = AgentGraph(url)
        try:
            return graph, RemoteControl(graph.link)
        except BaseException:
            graph.close()
            raise
    if urlsplit(url).scheme in ("mqtt", "mqtts"):  # a fleet: the robots keep their own control
        from rosweb.control.fleet import FleetControl
        from rosweb.graph.mqtt import FleetGraph

        fleet = FleetGraph(url, dict(settings))
        return fleet, FleetControl(fleet)
    return connect(url), None


def cache_patterns(setting: str, url: str) -> list[str]:
    """``ROSWEB_CACHE_TOPICS`` as globs: ``auto`` is every topic on the in-process simulator
    (free there) and none on a real middleware, where each topic kept would be received for
    nobody (bench/bench_idle.py: 100 ROS 1 topics at 10-100 Hz cost 56 % of a core)."""
    if setting.strip() == "auto":
        return ["*"] if url.startswith("sim:") else []
    return [p.strip() for p in setting.split(",") if p.strip()]


class Robot:
    """One robot: backend, hub, control, policy, audit and camera encoders, behind a guard."""

    def __init__(
        self,
        graph: Graph,
        *,
        settings: Mapping[str, Any] | None = None,
        control: ControlPort | None = None,
        audit: Audit | None = None,
        owns_graph: bool = True,
    ) -> None:
        cfg = {**config.DEFAULTS, **(settings or {})}
        self.url = graph.url
        self._owns_graph = owns_graph
        self._owns_control = control is None
        patterns = cache_patterns(cfg["ROSWEB_CACHE_TOPICS"], graph.url)
        hub = Hub(graph, cache_ttl=cfg["ROSWEB_CACHE_TTL"], cache_topics=patterns)
        try:
            ctl: ControlPort = control or Control.from_settings(graph, cfg)
        except BaseException:
            hub.close()
            raise
        self._parts = RobotParts(
            graph=graph,
            hub=hub,
            control=ctl,
            policy=Policy(cfg),
            audit=audit
            or Audit(
                cfg["ROSWEB_AUDIT_LOG"],
                max_bytes=cfg["ROSWEB_AUDIT_LOG_MAX_BYTES"],
                backups=cfg["ROSWEB_AUDIT_LOG_BACKUPS"],
            ),
            camera=Streams(hub, max_sources=int(cfg["ROSWEB_MAX_ENCODERS"])),
            declared_meta={
                normalize_name(name): dict(info) for name, info in cfg["ROSWEB_PARAM_META"].items()
            },
            motion_services=[normalize_name(s) for s in cfg["ROSWEB_MOTION_SERVICES"]],
            properties=Properties(),
            one_operator=not cfg["ROSWEB_USERS"],
        )
        #: the camera's JPEG encoders, one per (topic, quality, width), shared by every viewer
        self.camera = self._parts.camera
        self.policy = self._parts.policy
        self.audit = self._parts.audit
        self._closed = False
        self._lock = threading.Lock()
        #: the robot as the app's own code uses it: trusted with every name, guarded for motion
        self.local = self.bind(LOCAL)
        #: the app's own values as parameters (:meth:`add_property`)
        self.properties = self._parts.properties
        self._made: set[str] = set()  # backend params ROSWEB_PARAMS created (a property may claim)
        try:
            self._restore(cfg["ROSWEB_PARAMS"])
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], *, graph: Graph | None = None, audit: Audit | None = None
    ) -> Robot:
        """The robot of ``ROSWEB_BACKEND`` (or of ``graph``, which the caller keeps owning)."""
        cfg = {**config.DEFAULTS, **settings}
        control: ControlPort | None = None
        owns = graph is None
        if graph is None:
            graph, control = _open_backend(cfg["ROSWEB_BACKEND"], cfg)
        try:
            return cls(graph, settings=cfg, control=control, audit=audit, owns_graph=owns)
        except BaseException:
            if owns:
                graph.close()
            raise

    def bind(self, caller: Caller, *, remote: str = "", via: str = "") -> GuardedRobot:
        """The robot as ``caller`` may use it (``remote``: their address, ``via``: the path,
        e.g. ``rest``, ``ws``, ``sse``, for the audit log)."""
        return GuardedRobot(self._parts, caller, remote, via)

    # -- parameters: initial values, properties -------------------------------------------------

    def _restore(self, values: Mapping[str, Any]) -> None:
        """Give parameters the values of ``ROSWEB_PARAMS``: the backend's now, properties' when
        they are registered (a backend param made here for a name a property then claims is
        removed again)."""
        leaves = dict(_leaves(values))
        self.properties.expect(leaves)
        self.properties.on_add(self._claimed)
        graph = self._parts.graph
        for name, value in leaves.items():
            try:
                for made in (name, *_namespaces(name)):
                    try:
                        graph.get_param(made)
                    except NotFoundError:
                        self._made.add(made)
                self.local.set_param(name, value)
            except RosWebError as err:
                raise ConfigError(f"ROSWEB_PARAMS: {err}") from err

    def _claimed(self, prop: Property) -> None:
        """A property took a name ROSWEB_PARAMS had made on the backend: remove it there (and
        the namespaces made for it, once empty)."""
        if prop.name not in self._made:
            return
        graph = self._parts.graph
        try:
            graph.delete_param(prop.name)
            for namespace in _namespaces(prop.name):
                if namespace in self._made and graph.get_param(namespace) == {}:
                    graph.delete_param(namespace)
        except RosWebError as err:
            log.debug("cleaning %s up: %s", prop.name, err)

    def add_property(
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
    ) -> Property:
        """Make one of your values the parameter ``name``: read with ``getter()``, written with
        ``setter(value)`` (None: read-only) after the checks of ``type`` (float, int, bool,
        str), ``min``/``max`` and ``choices`` (see :class:`~rosweb.core.properties.Property`)."""
        prop = Property(
            name, getter, setter, type=type, min=min, max=max, step=step, unit=unit,
            description=description, choices=choices,
        )  # fmt: skip
        return self.properties.add(prop)

    # -- what every caller shares ---------------------------------------------------------------

    @property
    def control_is_local(self) -> bool:
        """False when the control lives in the agent process (``agent://``)."""
        return self._owns_control

    @property
    def fleet(self) -> FleetPort | None:
        """The robots of a fleet backend (``mqtt://``), None for a single robot."""
        control = self._parts.control
        return control if isinstance(control, FleetPort) else None

    @property
    def may_block(self) -> bool:
        """Whether a call to this robot's backend may block (see :attr:`Graph.may_block`)."""
        return self._parts.graph.may_block

    @property
    def started(self) -> float:
        return self._parts.started

    def health(self) -> dict[str, Any]:
        """The robot's health report (every feed: :meth:`GuardedRobot.health` filters them)."""
        return self._parts.health()

    def close(self) -> None:
        """Stop the deadman (with a last stop), the encoders, the hub, then the backend if this
        robot made it. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        parts = self._parts
        if self._owns_control:
            parts.control.close()
        parts.camera.close()
        parts.hub.close()
        parts.audit.close()
        if self._owns_graph:
            parts.graph.close()

    def __enter__(self) -> Robot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Robot {self.url}>"


def _leaves(values: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"robot": {"max_linear_speed": 0.5}, "/a/b": 1}`` -> ``[("/robot/max_linear_speed",
    0.5), ("/a/b", 1)]``: tables are namespaces, keys may hold slashes."""
    out: list[tuple[str, Any]] = []
    for key, value in values.items():
        name = normalize_name(f"{prefix}/{str(key).strip('/')}")
        if isinstance(value, dict) and value:
            out.extend(_leaves(value, name))
        else:
            out.append((name, value))
    return out


def _namespaces(name: str) -> list[str]:
    """``/a/b/c`` -> ``["/a/b", "/a"]``: the namespaces holding ``name``, deepest first."""
    parts = name.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[:end]) for end in range(len(parts), 0, -1)]
