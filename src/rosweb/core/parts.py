"""What a robot is made of, shared by the :class:`~rosweb.core.robot.Robot` that owns it and
every :class:`~rosweb.core.guard.GuardedRobot` bound to it: the backend (private to the core),
the hub, the control, the policy, the audit log, the camera encoders, the app's properties,
and what does not depend on who calls: parameters as the backend's plus the properties (each
name read and written where it lives), their checks (type, range, choices), motion services,
health."""

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
from rosweb.core.properties import Properties, check_value
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
    properties: Properties = field(default_factory=Properties)
    #: no users (authentication off): every caller is one operator for the control lease
    one_operator: bool = False
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

    # -- parameters: the backend's and the properties -------------------------------------------

    def param_names(self) -> list[str]:
        """Every parameter name: the backend's and the properties', sorted."""
        return sorted({*self.graph.param_names(), *self.properties.names()})

    def param_meta(self) -> dict[str, dict[str, Any]]:
        """Types, ranges, units and descriptions of parameters: the backend's (the sim declares
        its own), the properties', then the settings' (``ROSWEB_PARAM_META``), name by name."""
        meta = {name: dict(info) for name, info in self.graph.param_meta().items()}
        meta.update(self.properties.meta())
        for name, info in self.declared_meta.items():
            meta.setdefault(name, {}).update(info)
        return meta

    def get_param(self, name: str) -> Any:
        """A parameter's value: a property's getter, or the backend's (a namespace reads as a
        dict, with the properties inside it)."""
        name = normalize_name(name)
        prop = self.properties.get(name)
        if prop is not None:
            return prop.read()
        inside = self.properties.under(name)
        if not inside:
            return self.graph.get_param(name)
        try:
            value = self.graph.get_param(name)
        except NotFoundError:
            value = {}
        tree: dict[str, Any] = dict(value) if isinstance(value, dict) else {}
        prefix = len(name.rstrip("/")) + 1
        for item in inside:
            *path, leaf = item.name[prefix:].split("/")
            node = tree
            for part in path:
                node = node.setdefault(part, {})
            node[leaf] = item.read()
        return tree

    def set_leaf(self, name: str, value: Any) -> None:
        """Set one parameter where it lives (checked already by :meth:`check_param`)."""
        prop = self.properties.get(name)
        if prop is not None:
            prop.write(value)
        else:
            self.graph.set_param(name, value)

    def delete_param(self, name: str) -> None:
        """Delete a backend parameter or namespace; a property (or a namespace holding one)
        cannot be deleted."""
        name = normalize_name(name)
        if self.properties.get(name) is not None:
            raise ValidationError("is a property of the app: it cannot be deleted", name)
        if self.properties.under(name):
            raise ValidationError("holds properties of the app: it cannot be deleted", name)
        self.graph.delete_param(name)

    def check_param(self, name: str, value: Any) -> None:
        """ValidationError (422) naming the reason if ``value`` does not fit the parameter
        ``name``: its type, range or choices (a property's, the backend's declared meta,
        ``ROSWEB_PARAM_META``), a read-only property, or, for a namespace's dict, any
        parameter under it."""
        name = normalize_name(name)
        if isinstance(value, dict) and value:
            for key, item in value.items():
                self.check_param(f"{name.rstrip('/')}/{key}", item)
            return
        prop = self.properties.get(name)
        if prop is not None:
            prop.check(value)
        elif self.properties.under(name):
            raise ValidationError("holds properties of the app: set them one by one", name)
        info = self.param_meta().get(name)
        if info and not info.get("property"):
            check_value(name, value, info)
        elif info and name in self.declared_meta:
            check_value(name, value, self.declared_meta[name])

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
