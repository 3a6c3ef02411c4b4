"""What a robot is made of, shared by the :class:`~rosweb.core.robot.Robot` that owns it and
every :class:`~rosweb.core.guard.GuardedRobot` bound to it: the backend (private to the core),
the hub, the control, the policy, the audit log, the camera encoders, and the checks that do
not depend on who calls (parameter ranges, motion services, health)."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rosweb.control import ControlPort
from rosweb.core.audit import Audit
from rosweb.core.camera import Streams
from rosweb.core.policy import Policy
from rosweb.errors import EStopEngaged, NotFoundError, RosWebError, ValidationError
from rosweb.graph import Graph, normalize_name
from rosweb.hub import Hub

__all__ = ["TYPE_TTL", "RobotParts"]

TYPE_TTL = 2.0


@dataclass
class RobotParts:
    """The parts of one robot (made by :class:`~rosweb.core.robot.Robot`)."""

    graph: Graph
    hub: Hub
    control: ControlPort
    policy: Policy
    audit: Audit
    camera: Streams
    declared_meta: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    motion_services: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    #: topic -> (type, when looked up): a publisher's type is asked of the backend (a master
    #: round trip on ROS 1) at most every TYPE_TTL seconds, not at every message
    _types: dict[str, tuple[str, float]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.graph.url

    def topic_type(self, name: str) -> str | None:
        """The type of an existing topic (cached for :data:`TYPE_TTL` s); None if none."""
        now = time.monotonic()
        known = self._types.get(name)
        if known is not None and now - known[1] < TYPE_TTL:
            return known[0]
        try:
            type_name = self.graph.topic_type(name)
        except NotFoundError:
            self._types.pop(name, None)
            return None
        if len(self._types) > 10_000:
            self._types.clear()
        self._types[name] = (type_name, now)
        return type_name

    def param_meta(self) -> dict[str, dict[str, Any]]:
        """Ranges, units and descriptions of parameters: the backend's (the sim declares its
        own), then the settings' (``ROSWEB_PARAM_META``), name by name."""
        meta = {name: dict(info) for name, info in self.graph.param_meta().items()}
        for name, info in self.declared_meta.items():
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
        if not any(fnmatch.fnmatchcase(name, p) for p in self.motion_services):
            return
        estop = self.control.state().get("estop")
        if estop:
            raise EStopEngaged(f"{name} moves the robot and the e-stop is engaged "
                               f"(by {estop.get('by')}): clear it first")  # fmt: skip

    def health(self) -> dict[str, Any]:
        """``ok`` (False while the middleware, or the agent, cannot be reached), the backend's
        report, the deadman and the lease, and every hub feed."""
        graph = self.graph.health()
        ok = bool(graph.get("ok", True))
        info: dict[str, Any] = {}
        control: dict[str, Any] | None = None
        try:  # with the agent down, the control (served by it) cannot answer either
            info = self.control.info()
            control = self.control.state()
        except RosWebError:
            ok = False
        return {
            "ok": ok,
            "backend": self.url,
            "uptime": round(time.time() - self.started, 3),
            "graph": graph,
            "teleop": {k: info[k] for k in ("topic", "moving", "deadman_stops") if k in info},
            "control": control,
            "feeds": self.hub.feeds(),
        }
