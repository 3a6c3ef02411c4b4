"""The fleet server's control: motion is the robots' business, the fleet only forwards it.

:class:`FleetControl` is the :class:`~rosweb.control.ControlPort` of a fleet server's Robot: a
Twist to ``/r1/cmd_vel`` (any command topic a robot announces) becomes a ``cmd/drive`` to ``r1``
on behalf of the person who sent it, and the robot applies its own e-stop, lease, limits and
deadman (the fleet clamps to the person's role limits first). The e-stop of the fleet server
(``POST /api/estop``) is the **fleet-wide e-stop**: a retained message every robot obeys, even
one that connects later. Per robot, :class:`RobotControl` (``Robot.fleet.robot(name)``) takes
its lease, drives it by teleop command and latches its own e-stop.

Nothing here keeps a deadman: a robot stops by itself ``ROSWEB_TELEOP_TIMEOUT`` after the last
command, whatever happens to the fleet server or the broker.
"""

from __future__ import annotations

import time
from typing import Any

from rosweb.control.teleop import COMMANDS, TWIST
from rosweb.errors import RosWebError, ValidationError
from rosweb.graph.mqtt.contract import JSON, encode
from rosweb.graph.mqtt.graph import FleetGraph
from rosweb.graph.mqtt.robots import RobotEntry
from rosweb.messages import Message, from_json

__all__ = ["FleetControl", "RobotControl"]


def _clamp(twist: Message, max_linear: float | None, max_angular: float | None) -> Message:
    out = {"linear": dict(twist["linear"]), "angular": dict(twist["angular"])}
    for part, limit in (("linear", max_linear), ("angular", max_angular)):
        if limit is not None:
            for axis, value in out[part].items():
                out[part][axis] = max(-limit, min(limit, value))
    return out


class RobotControl:
    """One robot's lease, teleop and e-stop, on behalf of a person (a
    :class:`~rosweb.core.fleet.RobotPort`)."""

    def __init__(self, fleet: FleetGraph, entry: RobotEntry) -> None:
        self.fleet = fleet
        self.entry = entry
        self.name = entry.name

    def card(self) -> dict[str, Any]:
        return self.entry.card()

    def info(self) -> dict[str, Any]:
        info = dict(self.entry.field("teleop", {}) or {})
        prefix = f"/{self.name}"
        info["topic"] = prefix + str(info.get("topic") or "/cmd_vel")
        info["command_topics"] = [prefix + t for t in self.entry.command_topics()]
        info["robot"] = self.name
        return info

    def state(self) -> dict[str, Any]:
        with self.entry.lock:
            state = dict(self.entry.control)
        state.pop("robot", None)
        for key in ("holder", "user", "since", "estop"):
            state.setdefault(key, None)
        state.setdefault("moving", False)
        state["expires_in"] = None  # the robot knows (each command renews the lease)
        state["online"] = self.entry.online
        return state

    def _req(self, op: str, args: dict[str, Any], who: dict[str, str], kind: str = "req") -> Any:
        ttl = self.fleet.command_ttl if kind == "cmd" else self.fleet.service_timeout
        return self.fleet.request(self.entry, op, args, ttl=ttl, kind=kind, **who)

    def drive(self, topic: str, twist: Message, **who: str) -> Message:
        sent = self._req("drive", {"topic": topic, "twist": twist}, who, "cmd")
        return from_json(self.fleet.types, TWIST, sent)

    def command(self, name: str, speed: float, *, user: str, role: str, client: str,
                max_linear: float | None = None,
                max_angular: float | None = None) -> Message:  # fmt: skip
        if not isinstance(name, str) or name not in COMMANDS:
            raise ValidationError(f"unknown command {name!r}, expected one of {list(COMMANDS)}",
                                  "command")  # fmt: skip
        who = {"user": user, "role": role, "client": client}
        if max_linear is None and max_angular is None:
            sent = self._req("teleop", {"command": name, "speed": speed}, who, "cmd")
            return from_json(self.fleet.types, TWIST, sent)
        info = self.entry.field("teleop", {}) or {}
        linear, angular = COMMANDS[name]
        twist = {"linear": {"x": linear * float(info.get("linear_speed", 0.3)) * speed,
                            "y": 0.0, "z": 0.0},
                 "angular": {"x": 0.0, "y": 0.0,
                             "z": angular * float(info.get("angular_speed", 1.0)) * speed},
                 }  # fmt: skip
        twist = _clamp(twist, max_linear, max_angular)
        return self.drive(str(info.get("topic") or "/cmd_vel"), twist, **who)

    def acquire(self, *, user: str, role: str, client: str, force: bool) -> dict[str, Any]:
        who = {"user": user, "role": role, "client": client}
        return dict(self._req("acquire", {"force": force}, who))

    def release(self, *, user: str, role: str, client: str, force: bool) -> bool:
        who = {"user": user, "role": role, "client": client}
        return bool(self._req("release", {"force": force}, who))

    def engage_estop(self, *, user: str, role: str, client: str) -> dict[str, Any]:
        who = {"user": user, "role": role, "client": client}
        return dict(self._req("estop", {}, who))

    def clear_estop(self, *, user: str, role: str, client: str) -> dict[str, Any]:
        who = {"user": user, "role": role, "client": client}
        return dict(self._req("clear_estop", {}, who))


class FleetControl:
    """The :class:`~rosweb.control.ControlPort` of a fleet server, and its
    :class:`~rosweb.core.fleet.FleetPort`."""

    def __init__(self, fleet: FleetGraph) -> None:
        self.fleet = fleet

    # -- FleetPort ------------------------------------------------------------------------------

    def names(self) -> list[str]:
        with self.fleet._lock:
            return sorted(self.fleet.robots)

    def robot(self, name: str) -> RobotControl:
        entry, _ = self.fleet.split(f"/{name}")
        return RobotControl(self.fleet, entry)

    def cards(self) -> list[dict[str, Any]]:
        return [self.robot(name).card() for name in self.names()]

    # -- ControlPort ----------------------------------------------------------------------------

    def is_command_topic(self, topic: str) -> bool:
        try:
            entry, own = self.fleet.split(topic)
        except RosWebError:
            return False
        return own in entry.command_topics()

    def drive(self, topic: str, twist: Message, *, user: str, client: str = "",
              max_linear: float | None = None,
              max_angular: float | None = None) -> Message:  # fmt: skip
        entry, own = self.fleet.split(topic)
        return RobotControl(self.fleet, entry).drive(
            own, _clamp(twist, max_linear, max_angular), user=user, client=client
        )

    def command(self, name: str, speed: float = 1.0, *, user: str, client: str = "",
                max_linear: float | None = None,
                max_angular: float | None = None) -> Message:  # fmt: skip
        raise ValidationError("a fleet has many robots: POST /robots/<name>/api/teleop drives one",
                              "command")  # fmt: skip

    def _each(self, op: str, user: str = "", client: str = "") -> None:
        for entry in self.fleet.online():
            try:
                self.fleet.request(entry, op, {}, ttl=self.fleet.command_ttl, kind="cmd",
                                   user=user, client=client)  # fmt: skip
            except RosWebError:
                continue  # that robot's deadman stops it anyway

    def stop(self) -> None:
        self._each("stop")

    def disconnected(self, user: str, client: str = "") -> None:
        self._each("disconnected", user, client)

    def acquire(self, *, user: str, client: str = "", force: bool = False) -> dict[str, Any]:
        raise ValidationError("a fleet has many robots: POST /robots/<name>/api/control takes "
                              "one's lease")  # fmt: skip

    def release(self, *, user: str, client: str = "", force: bool = False) -> bool:
        raise ValidationError("a fleet has many robots: DELETE /robots/<name>/api/control gives "
                              "one's lease back")  # fmt: skip

    def engage_estop(self, *, user: str) -> dict[str, Any]:
        """The fleet-wide e-stop: retained, so a robot that connects later stops too."""
        body = {"engaged": True, "by": user, "since": round(time.time(), 3)}
        self.fleet.link.publish(self.fleet.layout.fleet_estop, encode(body), qos=1, retain=True,
                                content_type=JSON)  # fmt: skip
        self.fleet.fleet_estop = body
        return self.state()

    def clear_estop(self, *, user: str) -> dict[str, Any]:
        body = {"engaged": False, "by": user, "since": round(time.time(), 3)}
        self.fleet.link.publish(self.fleet.layout.fleet_estop, encode(body), qos=1, retain=True,
                                content_type=JSON)  # fmt: skip
        self.fleet.fleet_estop = None
        return self.state()

    def state(self) -> dict[str, Any]:
        estop = self.fleet.fleet_estop
        robots = {name: self.robot(name).state() for name in self.names()}
        return {
            "holder": None, "user": None, "since": None, "expires_in": None, "ttl": None,
            "estop": {"by": estop.get("by"), "since": estop.get("since")} if estop else None,
            "moving": any(r.get("moving") for r in robots.values()),
            "robots": robots,
        }  # fmt: skip

    def info(self) -> dict[str, Any]:
        topics = [f"/{e.name}{t}" for e in self.fleet.online() for t in e.command_topics()]
        return {"topic": "", "command_topics": topics, "commands": list(COMMANDS),
                "linear_speed": 0.0, "angular_speed": 0.0, "timeout": 0.0,
                "moving": any(e.control.get("moving") for e in self.fleet.online()),
                "deadman_stops": 0, "fleet": True}  # fmt: skip

    def close(self) -> None:
        pass
