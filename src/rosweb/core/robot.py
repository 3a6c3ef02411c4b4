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

import logging
import threading
from collections.abc import Mapping
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
        self._owns_graph = owns_graph
        self._owns_control = control is None
        patterns = [p.strip() for p in cfg["ROSWEB_CACHE_TOPICS"].split(",") if p.strip()]
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
        )
        #: the camera's JPEG encoders, one per (topic, quality, width), shared by every viewer
        self.camera = self._parts.camera
        self.policy = self._parts.policy
        self.audit = self._parts.audit
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
        return GuardedRobot(self._parts, caller, remote, via)

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
