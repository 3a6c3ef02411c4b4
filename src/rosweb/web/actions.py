"""What a principal does to the robot, checked and audited in one place for every path.

REST views, rosbridge sessions (and their rosapi calls), SSE and MJPEG all act through an
:class:`Actor`: it checks the role and the allow/deny lists, sends motion on a command topic
through :class:`~rosweb.control.Control` (e-stop, lease, the role's limits, deadman), and writes
the audit log. Input is already validated (``from_json``) when it reaches here.
"""

from __future__ import annotations

from typing import Any

from rosweb.control import TWIST
from rosweb.errors import PermissionDenied
from rosweb.graph import normalize_name
from rosweb.messages import Message
from rosweb.web.auth import Principal

__all__ = ["Actor"]


class Actor:
    """One principal acting through one app's state."""

    def __init__(self, state: Any, principal: Principal, remote: str = "", via: str = "rest"):
        self.state = state
        self.principal = principal
        self.policy = state.gate.policy
        self.audit = state.gate.audit
        self.who = {**principal.describe(), "remote": remote, "path": via}
        self._visible: dict[tuple[str, str], bool] = {}

    # -- checks ---------------------------------------------------------------------------------

    def require(self, role: str, what: str) -> None:
        if not self.principal.at_least(role):
            raise PermissionDenied(f"{what} needs role {role} (you are {self.principal.role})")

    def see(self, kind: str, name: str) -> None:
        """PermissionDenied unless ``name`` is exposed to this principal."""
        if not self.visible(kind, name):
            self.policy.check(self.principal, kind, normalize_name(name))

    def visible(self, kind: str, name: str) -> bool:
        key = (kind, normalize_name(name))
        seen = self._visible.get(key)
        if seen is None:  # the policy and the role do not change during a session
            seen = self._visible[key] = bool(self.policy.visible(self.principal, *key))
            if len(self._visible) > 4096:
                self._visible.clear()
        return seen

    def write(self, kind: str, name: str) -> None:
        self.require("operator", f"writing {kind} {name}")
        self.see(kind, name)

    # -- introspection, filtered ----------------------------------------------------------------

    def topics(self) -> dict[str, str]:
        return {n: t for n, t in self.state.graph.topics().items() if self.visible("topic", n)}

    def services(self) -> dict[str, str]:
        items = self.state.graph.services().items()
        return {n: t for n, t in items if self.visible("service", n)}

    def param_names(self) -> list[str]:
        return [n for n in self.state.graph.param_names() if self.visible("param", n)]

    def param_meta(self) -> dict[str, dict[str, Any]]:
        meta: dict[str, dict[str, Any]] = self.state.param_meta()
        return {name: info for name, info in meta.items() if self.visible("param", name)}

    def nodes(self) -> list[str]:
        return list(self.state.graph.nodes())

    @property
    def types(self) -> Any:
        return self.state.graph.types

    def topic_type(self, name: str) -> str:
        self.see("topic", name)
        return str(self.state.graph.topic_type(name))

    def service_type(self, name: str) -> str:
        self.see("service", name)
        return str(self.state.graph.service_type(name))

    def get_param(self, name: str) -> Any:
        self.see("param", name)
        return self.policy.prune(self.principal, name, self.state.graph.get_param(name))

    # -- writes ---------------------------------------------------------------------------------

    def publish(self, topic: str, type_name: str, msg: Message, *, latch: bool = False) -> Message:
        """Publish; a Twist on a command topic goes through the control (may be clamped)."""
        self.write("topic", topic)
        control = self.state.control
        types = self.state.graph.types  # a ROS 2 graph names it geometry_msgs/msg/Twist
        if types.canonical(type_name) == types.canonical(TWIST) and control.is_command_topic(topic):
            return self.drive(topic, msg)
        if control.is_command_topic(topic):
            raise PermissionDenied(f"{topic} is a command topic: only {TWIST} may go there")
        self.state.graph.publish(topic, type_name, msg, latch=latch)
        self.audit.record(self.who, "publish", topic, type=type_name)
        return msg

    def advertise(self, topic: str, type_name: str) -> None:
        self.write("topic", topic)
        control = self.state.control
        types = self.state.graph.types
        if control.is_command_topic(topic) and types.canonical(type_name) != types.canonical(TWIST):
            raise PermissionDenied(f"{topic} is a command topic: only {TWIST} may go there")
        self.audit.record(self.who, "advertise", topic, type=type_name)

    def drive(self, topic: str, twist: Message) -> Message:
        max_linear, max_angular = self.policy.limits(self.principal)
        try:
            sent: Message = self.state.control.drive(
                topic, twist, user=self.principal.user, client=self.principal.client,
                max_linear=max_linear, max_angular=max_angular,
            )  # fmt: skip
        except Exception as err:
            self.audit.record(self.who, "drive", topic, "refused", reason=str(err))
            raise
        self.audit.record(self.who, "drive", topic, twist=sent)
        return sent

    def command(self, name: str, speed: float) -> Message:
        """A teleop command (forward, back, left, right, stop)."""
        control = self.state.control
        self.write("topic", control.info()["topic"])
        max_linear, max_angular = self.policy.limits(self.principal)
        try:
            sent: Message = control.command(
                name, speed, user=self.principal.user, client=self.principal.client,
                max_linear=max_linear, max_angular=max_angular,
            )  # fmt: skip
        except Exception as err:
            self.audit.record(self.who, "teleop", name, "refused", reason=str(err))
            raise
        self.audit.record(self.who, "teleop", name, speed=speed)
        return sent

    def call(self, service: str, request: Message, *, timeout: float | None = None) -> Message:
        self.require("operator", f"calling {service}")
        self.see("service", service)
        try:
            response: Message = self.state.graph.call_service(service, request, timeout=timeout)
        except Exception as err:
            self.audit.record(self.who, "call", service, "failed", reason=str(err))
            raise
        self.audit.record(self.who, "call", service)
        return response

    def provide(self, service: str) -> None:
        self.write("service", service)
        self.audit.record(self.who, "provide", service)

    def set_param(self, name: str, value: Any) -> None:
        self.write("param", name)
        self.state.graph.set_param(name, value)
        self.audit.record(self.who, "set_param", name, value=value)

    def delete_param(self, name: str) -> None:
        self.write("param", name)
        self.state.graph.delete_param(name)
        self.audit.record(self.who, "delete_param", name)

    # -- control --------------------------------------------------------------------------------

    def acquire(self, force: bool = False) -> dict[str, Any]:
        self.require("admin" if force else "operator", "taking over control" if force else
                     "taking control")  # fmt: skip
        state: dict[str, Any] = self.state.control.acquire(
            user=self.principal.user, client=self.principal.client, force=force
        )
        self.audit.record(self.who, "acquire", "control", force=force)
        return state

    def release(self, force: bool = False) -> bool:
        self.require("admin" if force else "operator", "releasing control")
        released: bool = self.state.control.release(
            user=self.principal.user, client=self.principal.client, force=force
        )
        self.audit.record(self.who, "release", "control", force=force, released=released)
        return released

    def estop(self) -> dict[str, Any]:
        state: dict[str, Any] = self.state.control.engage_estop(user=self.principal.user)
        self.audit.record(self.who, "estop", "engage")
        return state

    def clear_estop(self) -> dict[str, Any]:
        self.require("operator", "clearing the e-stop")
        state: dict[str, Any] = self.state.control.clear_estop(user=self.principal.user)
        self.audit.record(self.who, "estop", "clear")
        return state
