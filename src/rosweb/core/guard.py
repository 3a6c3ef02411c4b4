"""The robot as one caller may use it: every check and every record in one place, for every path.

A :class:`GuardedRobot` is a :class:`~rosweb.core.robot.Robot` (its parts) bound to a
:class:`~rosweb.core.policy.Caller` (``robot.bind(caller)``). REST views, rosbridge sessions (and
their rosapi calls), SSE, MJPEG, the fleet bridge and the app's own code all act through one:

- **names**: the caller sees and touches only what the allow/deny lists of its role expose
  (the app's own code, :data:`~rosweb.core.policy.LOCAL`, is trusted with every name);
- **roles**: writes need ``operator``, taking over the lease ``admin``; anyone may stop;
- **messages**: input in rosweb's JSON form is validated against its type, missing fields get
  their defaults (a partial Twist is a Twist), errors name the field;
- **motion**: a Twist to a command topic goes through the control (e-stop, lease, the role's
  velocity limits, deadman), whoever sends it; anything else to a command topic is refused;
- **audit**: writes are recorded with who made them.

Nothing here knows HTTP, WebSockets or threads of a server: errors are :mod:`rosweb.errors`
classes, which carry their own HTTP status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rosweb.control import TWIST, TWIST_STAMPED, Operator, is_motion_type
from rosweb.core import insight
from rosweb.core.parammap import ParamMap
from rosweb.core.parts import RobotParts
from rosweb.core.policy import Caller
from rosweb.core.subscription import Subscription
from rosweb.errors import NotFoundError, PermissionDenied, TypeMismatchError, ValidationError
from rosweb.graph import Handle, ServiceHandler, normalize_name
from rosweb.hub import Consumer, Envelope
from rosweb.messages import Message, TypeStore, describe, from_json

__all__ = ["ONE_OPERATOR", "GuardedRobot"]

#: the operator every caller is when there are no users (authentication off)
ONE_OPERATOR = Operator("anonymous")


class GuardedRobot:
    """One caller acting on one robot."""

    def __init__(self, parts: RobotParts, caller: Caller, remote: str = "", via: str = "") -> None:
        self._parts = parts
        self._graph = parts.graph
        self._control = parts.control
        self._hub = parts.hub
        self.caller = caller
        self.who = {**caller.describe(), "remote": remote, "path": via or caller.via}
        self._trusted = caller.via == "local"
        #: who drives, for the lease: without users, every caller (browser tabs, curl, the CLI,
        #: scripts, the app's own code) is the one operator ``anonymous``
        self._seat = ONE_OPERATOR if parts.one_operator and caller.via in ("open", "local") \
            else caller.operator  # fmt: skip
        self._visible: dict[tuple[str, str], bool] = {}

    def __repr__(self) -> str:
        return f"<GuardedRobot {self._parts.url} as {self.caller.user} ({self.caller.role})>"

    # -- checks ---------------------------------------------------------------------------------

    @property
    def operator(self) -> str:
        """The key the control lease knows this caller by (``alice/tab-1``; ``anonymous`` for
        everyone when there are no users)."""
        return self._seat.key

    def require(self, role: str, what: str) -> None:
        """PermissionDenied unless the caller's role is at least ``role``."""
        if not self.caller.at_least(role):
            raise PermissionDenied(f"{what} needs role {role} (you are {self.caller.role})")

    def see(self, kind: str, name: str) -> None:
        """PermissionDenied unless ``name`` is exposed to this caller."""
        if not self.visible(kind, name):
            self._parts.policy.check(self.caller, kind, normalize_name(name))

    def visible(self, kind: str, name: str) -> bool:
        if self._trusted:
            return True
        key = (kind, normalize_name(name))
        seen = self._visible.get(key)
        if seen is None:  # the policy and the role do not change during a session
            seen = self._visible[key] = bool(self._parts.policy.visible(self.caller, *key))
            if len(self._visible) > 4096:
                self._visible.clear()
        return seen

    def _is_motion(self, type_name: str) -> str | None:
        """``TWIST`` or ``TWIST_STAMPED`` if ``type_name`` names one in any accepted form (ROS 2
        says ``geometry_msgs/msg/Twist``): what may go to a command topic."""
        return is_motion_type(self._graph.types, type_name)

    def write(self, kind: str, name: str) -> None:
        self.require("operator", f"writing {kind} {name}")
        self.see(kind, name)

    def _record(self, action: str, target: str, outcome: str = "ok", **detail: Any) -> None:
        self._parts.audit.record(self.who, action, target, outcome, **detail)

    # -- introspection, filtered ----------------------------------------------------------------

    @property
    def types(self) -> TypeStore:
        """The message and service types of the robot (read them; do not register here)."""
        return self._graph.types

    def topics(self) -> dict[str, str]:
        """Topic name -> type, of the topics this caller may see."""
        return {n: t for n, t in self._graph.topics().items() if self.visible("topic", n)}

    def services(self) -> dict[str, str]:
        items = self._graph.services().items()
        return {n: t for n, t in items if self.visible("service", n)}

    def nodes(self) -> list[str]:
        return list(self._graph.nodes())

    def topic_type(self, name: str) -> str:
        self.see("topic", name)
        return str(self._graph.topic_type(name))

    def service_type(self, name: str) -> str:
        self.see("service", name)
        return str(self._graph.service_type(name))

    def schema(self, type_name: str) -> dict[str, Any]:
        """The JSON description of a message or service type (fields, defaults, constants)."""
        return describe(self._graph.types, self._graph.types.canonical(type_name))

    def health(self) -> dict[str, Any]:
        """The robot's health report, with only the feeds this caller may see."""
        report = self._parts.health()
        report["feeds"] = {t: f for t, f in report["feeds"].items() if self.visible("topic", t)}
        return report

    def topic_stats(self, names: list[str] | None = None) -> dict[str, Any]:
        """Rate (Hz) and bandwidth (B/s) per visible topic, as the server counts them."""
        return insight.topic_stats(self._hub, self.topics(), self.visible, names)

    def topic_graph(self) -> dict[str, Any]:
        """Nodes, and who publishes, subscribes and provides each visible name."""
        return insight.topic_graph(self._graph, self.nodes(), self.topics(), self.services())

    # -- topics ---------------------------------------------------------------------------------

    def resolve_type(self, topic: str, type_name: str | None = None) -> str:
        """The type to publish ``topic`` with: its type in the graph, or ``type_name`` for a new
        topic (TypeMismatchError if both and they differ, NotFoundError if neither)."""
        name = normalize_name(topic)
        existing = self._parts.topic_type(name)
        asked = self._graph.types.canonical(type_name) if type_name else None
        if asked is not None and existing is not None and asked != existing:
            raise TypeMismatchError(f"topic {name} has type {existing}, not {asked}")
        resolved = existing or asked
        if resolved is None:
            raise NotFoundError("topic", name, f"no topic {name!r}: give its type to create it")
        if not self._graph.types.has_message(resolved):
            err = ValidationError(f"unknown message type {resolved!r}", "type")
            err.code = "unknown_type"
            raise err
        return resolved

    def publish(
        self, topic: str, msg: Any = None, type_name: str | None = None, *, latch: bool = False
    ) -> Message:
        """Publish ``msg`` (rosweb's JSON form; missing fields get defaults) on ``topic``.

        The type is the topic's, or ``type_name`` for a new topic. A Twist on a command topic
        goes through the control (may be clamped; refused while the e-stop is engaged or
        another operator holds the lease). Returns what was published.
        """
        name = normalize_name(topic)
        self.write("topic", name)
        resolved = self.resolve_type(name, type_name)
        message = from_json(self._graph.types, resolved, {} if msg is None else msg)
        if self._control.is_command_topic(name):
            motion = self._is_motion(resolved)
            if motion is None:
                raise PermissionDenied(f"{name} is a command topic: only {TWIST} (or "
                                       f"{TWIST_STAMPED}) may go there")  # fmt: skip
            if motion == TWIST:
                return self._drive(name, message)
            # a TwistStamped's Twist is driven (clamped, deadman) and stamped again when sent
            return {**message, "twist": self._drive(name, message["twist"])}
        self._graph.publish(name, resolved, message, latch=latch)
        self._record("publish", name, type=resolved)
        return message

    def advertise(self, topic: str, type_name: str, *, latch: bool = False) -> Handle:
        """Keep a publisher of ``topic`` registered until the handle is closed (publish with
        :meth:`publish`)."""
        name = normalize_name(topic)
        self.write("topic", name)
        if not self._graph.types.has_message(type_name):
            raise ValidationError(f"unknown message type {type_name!r}", "type")
        if self._control.is_command_topic(name) and self._is_motion(type_name) is None:
            raise PermissionDenied(f"{name} is a command topic: only {TWIST} (or "
                                   f"{TWIST_STAMPED}) may go there")  # fmt: skip
        handle = self._graph.advertise(name, type_name, latch=latch)
        self._record("advertise", name, type=type_name)
        return handle

    def consume(
        self,
        topic: str,
        type_name: str | None = None,
        *,
        queue_length: int = 10,
        throttle_rate: float = 0.0,
        notify: Callable[[Consumer], None] | None = None,
    ) -> Consumer:
        """A bounded queue of the topic's messages (the hub's, shared with every other caller's
        subscription to it); close it when done. ``throttle_rate`` in ms."""
        name = normalize_name(topic)
        self.see("topic", name)
        wanted = self._graph.types.canonical(type_name) if type_name else None  # any ROS 2 form
        return self._hub.consume(
            name, wanted, queue_length=queue_length,
            throttle_rate=throttle_rate, notify=notify,
        )  # fmt: skip

    def subscribe(
        self,
        topic: str,
        callback: Callable[[Envelope], None] | None = None,
        *,
        type_name: str | None = None,
        throttle_rate: float = 0.0,
        queue_length: int = 10,
    ) -> Subscription:
        """Messages of ``topic``: ``callback(envelope)`` for each (on a thread of its own, never
        the middleware's; an exception is logged with the topic and counted, the feed goes on),
        or, without a callback, iterate the returned subscription. Close it when done."""
        consumer = self.consume(
            topic, type_name, queue_length=queue_length, throttle_rate=throttle_rate
        )
        return Subscription(consumer, callback)

    def latest(self, topic: str, timeout: float = 0.0) -> Envelope | None:
        """The last message of ``topic``, waiting up to ``timeout`` s for a first one; None if
        none came. NotFoundError for a topic that is not in the graph and never was."""
        name = normalize_name(topic)
        self.see("topic", name)
        if not self._hub.cached(name) and name not in self._graph.topics():
            raise NotFoundError("topic", name)
        return self._hub.latest(name, timeout)

    # -- motion ---------------------------------------------------------------------------------

    def _drive(self, topic: str, twist: Message) -> Message:
        max_linear, max_angular = self._parts.policy.limits(self.caller)
        try:
            sent: Message = self._control.drive(
                topic, twist, user=self._seat.user, client=self._seat.client,
                max_linear=max_linear, max_angular=max_angular,
            )  # fmt: skip
        except Exception as err:
            self._record("drive", topic, "refused", reason=str(err))
            raise
        self._record("drive", topic, twist=sent)
        return sent

    def drive(self, twist: Any, topic: str | None = None) -> Message:
        """Drive with a Twist (partial: missing fields are 0) on ``topic`` (the teleop topic by
        default): clamped, lasting the deadman's timeout unless repeated."""
        name = normalize_name(topic) if topic else str(self._control.info()["topic"])
        self.write("topic", name)
        if not self._control.is_command_topic(name):
            raise ValidationError(f"{name} is not a command topic", "topic")
        return self._drive(name, from_json(self._graph.types, TWIST, twist))

    def teleop(self, command: str, speed: float = 1.0) -> Message:
        """A teleop command (forward, back, left, right, stop) at ``speed`` (0..1) of the teleop
        speeds; the robot stops after the deadman's timeout unless repeated."""
        info = self._control.info()
        self.write("topic", info["topic"])
        max_linear, max_angular = self._parts.policy.limits(self.caller)
        try:
            sent: Message = self._control.command(
                command, speed, user=self._seat.user, client=self._seat.client,
                max_linear=max_linear, max_angular=max_angular,
            )  # fmt: skip
        except Exception as err:
            self._record("teleop", str(command), "refused", reason=str(err))
            raise
        self._record("teleop", command, speed=speed)
        return sent

    def stop(self) -> None:
        """A zero Twist on every command topic, now: anyone may stop the robot."""
        self._control.stop()
        self._record("stop", "control")

    def teleop_info(self) -> dict[str, Any]:
        """The teleop topic, commands, speeds, deadman timeout and limits."""
        return self._control.info()

    def disconnected(self) -> None:
        """This caller's connection is gone: if they were driving, the robot stops now."""
        self._control.disconnected(self._seat.user, self._seat.client)

    # -- services -------------------------------------------------------------------------------

    def call(self, service: str, request: Any = None, *, timeout: float | None = None) -> Message:
        """Call ``service`` with ``request`` (JSON form; missing fields get defaults); returns the
        response. ServiceTimeout after ``timeout`` s, ServiceError if the server failed."""
        name = normalize_name(service)
        self.require("operator", f"calling {name}")
        self.see("service", name)
        srv = self._graph.types.service(self._graph.service_type(name))
        message = from_json(self._graph.types, srv.request, {} if request is None else request)
        self._parts.check_motion_service(name)
        try:
            response: Message = self._graph.call_service(name, message, timeout=timeout)
        except Exception as err:
            self._record("call", name, "failed", reason=str(err))
            raise
        self._record("call", name)
        return response

    def provide(self, service: str, type_name: str, handler: ServiceHandler) -> Handle:
        """Serve ``service``: ``handler(request) -> response`` until the handle is closed."""
        name = normalize_name(service)
        self.write("service", name)
        if not self._graph.types.has_service(type_name):
            raise ValidationError(f"unknown service type {type_name!r}", "type")
        handle = self._graph.provide_service(name, type_name, handler)
        self._record("provide", name)
        return handle

    # -- parameters -----------------------------------------------------------------------------

    @property
    def params(self) -> ParamMap:
        """The parameters (and properties) as a mapping: ``robot.params["/a/b"] = 0.5``."""
        return ParamMap(self)

    def param_names(self) -> list[str]:
        """The parameter names this caller may see: the backend's and the app's properties."""
        return [n for n in self._parts.param_names() if self.visible("param", n)]

    def param_meta(self) -> dict[str, dict[str, Any]]:
        meta = self._parts.param_meta()
        return {name: info for name, info in meta.items() if self.visible("param", name)}

    def get_param(self, name: str) -> Any:
        self.see("param", name)
        return self._parts.policy.prune(self.caller, name, self._parts.get_param(name))

    def _write_param(self, name: str) -> None:
        """A write or delete of ``name`` touches every name under it too: each must be exposed."""
        self.write("param", name)
        prefix = normalize_name(name).rstrip("/") + "/"
        for other in self._parts.param_names():
            if other.startswith(prefix) and not self.visible("param", other):
                raise PermissionDenied(f"param {other} (under {name}) is not exposed to role "
                                       f"{self.caller.role}")  # fmt: skip

    def set_param(self, name: str, value: Any) -> Any:
        """Set a parameter; returns its new value. A dict sets the names it holds under the
        namespace ``name`` and leaves the others there as they are (delete to remove one)."""
        name = normalize_name(name)
        self._write_param(name)
        self._parts.check_param(name, value)
        leaves = _leaves(name, value) if isinstance(value, dict) and value else [(name, value)]
        for leaf, _item in leaves:  # new names under the namespace are checked too
            self.see("param", leaf)
        for leaf, item in leaves:
            self._parts.set_leaf(leaf, item)
        self._record("set_param", name, value=value)
        return self.get_param(name)

    def delete_param(self, name: str) -> None:
        name = normalize_name(name)
        self._write_param(name)
        self._parts.delete_param(name)
        self._record("delete_param", name)

    # -- control lease, e-stop ------------------------------------------------------------------

    def control_state(self) -> dict[str, Any]:
        """Who holds the lease, the e-stop, whether the robot is moving."""
        return self._control.state()

    def acquire(self, force: bool = False) -> dict[str, Any]:
        self.require("admin" if force else "operator", "taking over control" if force else
                     "taking control")  # fmt: skip
        state = self._control.acquire(user=self._seat.user, client=self._seat.client, force=force)
        self._record("acquire", "control", force=force)
        return state

    def release(self, force: bool = False) -> bool:
        self.require("admin" if force else "operator", "releasing control")
        released = self._control.release(
            user=self._seat.user, client=self._seat.client, force=force
        )
        self._record("release", "control", force=force, released=released)
        return released

    def estop(self) -> dict[str, Any]:
        """Latch the e-stop: the robot stops, motion is refused until an operator clears it."""
        state = self._control.engage_estop(user=self.caller.user)
        self._record("estop", "engage")
        return state

    def clear_estop(self) -> dict[str, Any]:
        self.require("operator", "clearing the e-stop")
        state = self._control.clear_estop(user=self.caller.user)
        self._record("estop", "clear")
        return state


def _leaves(name: str, value: dict[str, Any]) -> list[tuple[str, Any]]:
    """``("/ns", {"a": 1, "b": {"c": 2}})`` -> ``[("/ns/a", 1), ("/ns/b/c", 2)]``."""
    out: list[tuple[str, Any]] = []
    for key, item in value.items():
        child = f"{name.rstrip('/')}/{key}"
        if isinstance(item, dict) and item:
            out.extend(_leaves(child, item))
        else:
            out.append((child, item))
    return out
