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
"""

from __future__ import annotations

import fnmatch
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from rosweb import config
from rosweb.control import Control, ControlPort
from rosweb.core.audit import Audit
from rosweb.core.camera import Streams
from rosweb.core.fleet import FleetPort
from rosweb.core.guard import GuardedRobot
from rosweb.core.policy import LOCAL, Caller, Policy
from rosweb.errors import EStopEngaged, RosWebError, ValidationError
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
        self._graph = graph
        self._owns_graph = owns_graph
        self._owns_control = control is None
        self._control: ControlPort = control or Control.from_settings(graph, cfg)
        patterns = [p.strip() for p in cfg["ROSWEB_CACHE_TOPICS"].split(",") if p.strip()]
        self._hub = Hub(graph, cache_ttl=cfg["ROSWEB_CACHE_TTL"], cache_topics=patterns)
        self.policy = Policy(cfg)
        self.audit = audit or Audit(
            cfg["ROSWEB_AUDIT_LOG"],
            max_bytes=cfg["ROSWEB_AUDIT_LOG_MAX_BYTES"],
            backups=cfg["ROSWEB_AUDIT_LOG_BACKUPS"],
        )
        #: the camera's JPEG encoders, one per (topic, quality, width), shared by every viewer
        self.camera = Streams(self._hub, max_sources=int(cfg["ROSWEB_MAX_ENCODERS"]))
        self._declared_meta: dict[str, dict[str, Any]] = {
            normalize_name(name): dict(info) for name, info in cfg["ROSWEB_PARAM_META"].items()
        }
        self._motion_services = [normalize_name(s) for s in cfg["ROSWEB_MOTION_SERVICES"]]
        self.started = time.time()
        self._closed = False
        self._lock = threading.Lock()
        #: the robot as the app's own code uses it: trusted with every name, guarded for motion
        self.local = self.bind(LOCAL)

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
        return GuardedRobot(self, caller, remote, via)

    # -- what every caller shares ---------------------------------------------------------------

    @property
    def control_is_local(self) -> bool:
        """False when the control lives in the agent process (``agent://``)."""
        return self._owns_control

    @property
    def fleet(self) -> FleetPort | None:
        """The robots of a fleet backend (``mqtt://``), None for a single robot."""
        return self._control if isinstance(self._control, FleetPort) else None

    def param_meta(self) -> dict[str, dict[str, Any]]:
        """Ranges, units and descriptions of parameters: the backend's (the sim declares its
        own), then the settings' (``ROSWEB_PARAM_META``), name by name."""
        meta = {name: dict(info) for name, info in self._graph.param_meta().items()}
        for name, info in self._declared_meta.items():
            meta.setdefault(name, {}).update(info)
        return meta

    def check_param(self, name: str, value: Any) -> None:
        """ValidationError (422) if ``value`` is outside the declared range of ``name`` (or of
        a parameter under it, for a namespace's dict)."""
        if isinstance(value, dict):
            for key, item in value.items():
                self.check_param(f"{name.rstrip('/')}/{key}", item)
            return
        info = self.param_meta().get(normalize_name(name))
        if not info:
            return
        low, high = info.get("min"), info.get("max")
        if low is None and high is None:
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError(f"expects a number, got {value!r}", name)
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValidationError(
                f"expects a value in [{low if low is not None else '-inf'}, "
                f"{high if high is not None else 'inf'}], got {value!r}", name,
            )  # fmt: skip

    def check_motion_service(self, name: str) -> None:
        """EStopEngaged for a service that moves the robot (``ROSWEB_MOTION_SERVICES``) while
        the e-stop is engaged."""
        if not any(fnmatch.fnmatchcase(name, p) for p in self._motion_services):
            return
        estop = self._control.state().get("estop")
        if estop:
            raise EStopEngaged(f"{name} moves the robot and the e-stop is engaged "
                               f"(by {estop.get('by')}): clear it first")  # fmt: skip

    def health(self) -> dict[str, Any]:
        """``ok`` (False while the middleware, or the agent, cannot be reached), the backend's
        report, the deadman and the lease, and every hub feed."""
        graph = self._graph.health()
        ok = bool(graph.get("ok", True))
        info: dict[str, Any] = {}
        control: dict[str, Any] | None = None
        try:  # with the agent down, the control (served by it) cannot answer either
            info = self._control.info()
            control = self._control.state()
        except RosWebError:
            ok = False
        return {
            "ok": ok,
            "backend": self.url,
            "uptime": round(time.time() - self.started, 3),
            "graph": graph,
            "teleop": {k: info[k] for k in ("topic", "moving", "deadman_stops") if k in info},
            "control": control,
            "feeds": self._hub.feeds(),
        }

    def close(self) -> None:
        """Stop the deadman (with a last stop), the encoders, the hub, then the backend if this
        robot made it. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._owns_control:
            self._control.close()
        self.camera.close()
        self._hub.close()
        self.audit.close()
        if self._owns_graph:
            self._graph.close()

    def __enter__(self) -> Robot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Robot {self.url}>"
