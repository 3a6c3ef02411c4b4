"""Control of the robot: every motion the web sends goes through one :class:`Control`.

It owns the command topics (the teleop topic and ``ROSWEB_COMMAND_TOPICS``) and, for each, a
:class:`~rosweb.control.teleop.Teleop` with its deadman; the control lease (one operator at a
time); the e-stop latch; the velocity limits. A motion on a command topic, whatever path it took
(REST teleop, REST publish, rosbridge publish, the Python client), is checked here in this order:

1. the e-stop: latched means refused (:class:`~rosweb.errors.EStopEngaged`);
2. the lease: a free lease is taken, someone else's refuses (:class:`~rosweb.errors.LeaseHeld`);
3. the limits: clamped to the robot's and the caller's role limits, whichever is lower;
4. the deadman: the motion lasts ``timeout`` seconds unless repeated.

A stop (zero Twist) is never refused: anyone may stop the robot.

It implements :class:`~rosweb.control.port.ControlPort`: its methods take plain values (names,
numbers, dicts), so the agent process serves the same object to several web workers (with
``rosweb run --workers N`` the lease, the e-stop and the deadman live in the agent, one for all).

A new Control publishes a zero Twist on every command topic first, and again at the e-stop rate
for :data:`STARTUP_STOPS` seconds until someone drives: a restarted server or agent takes over a
robot that may still be moving on the last command of the process that died, and a middleware
that connects subscribers to a new publisher after a while (ROS 1) would lose a single stop.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from rosweb.control.lease import Lease, Operator
from rosweb.control.teleop import COMMANDS, TWIST, Teleop, VelocityLimits, is_zero
from rosweb.errors import ConfigError, EStopEngaged, ValidationError
from rosweb.graph import Graph, normalize_name
from rosweb.messages import Message, default

__all__ = ["STARTUP_STOPS", "Control"]

log = logging.getLogger(__name__)

#: seconds a new Control keeps publishing stops (at the e-stop rate) unless someone drives
STARTUP_STOPS = 3.0


class Control:
    """Teleop, deadman, lease, e-stop and limits for one robot."""

    def __init__(
        self,
        graph: Graph,
        *,
        topic: str = "/cmd_vel",
        command_topics: Iterable[str] = (),
        linear_speed: float = 0.3,
        angular_speed: float = 1.0,
        timeout: float = 0.2,
        limits: VelocityLimits | None = None,
        lease_ttl: float = 30.0,
        estop_rate: float = 10.0,
        estop_file: str = "",
        stamped: bool | None = None,
        frame_id: str = "base_link",
    ) -> None:
        self.graph = graph
        self.topic = normalize_name(topic)
        self.limits = limits or VelocityLimits()
        self.lease = Lease(lease_ttl)
        self.estop_rate = estop_rate
        self._zero = default(graph.types, TWIST)
        topics = dict.fromkeys([self.topic, *(normalize_name(t) for t in command_topics)])
        self._teleops: dict[str, Teleop] = {}
        try:
            for name in topics:
                self._teleops[name] = Teleop(
                    graph, topic=name, linear_speed=linear_speed, angular_speed=angular_speed,
                    timeout=timeout, limits=self.limits, stamped=stamped, frame_id=frame_id,
                )  # fmt: skip
        except BaseException:
            self.close()
            raise
        #: where the latch survives a restart of this process ("" : nowhere)
        self.estop_file = estop_file
        self._estop: dict[str, Any] | None = _restore_estop(estop_file)
        #: held while checking the e-stop and the lease and driving, and while engaging the
        #: e-stop: once engage_estop returns, no move can be published after its stop
        self._lock = threading.RLock()
        self._estop_wake = threading.Event()
        self._closed = False
        #: until when the start-up stops repeat, and whether a motion was published since start
        self._startup_until = time.monotonic() + STARTUP_STOPS
        self._driven = False
        self._estop_thread = threading.Thread(
            target=self._repeat_stop, name="rosweb-estop", daemon=True
        )
        self._estop_thread.start()
        for teleop in self._teleops.values():
            try:
                teleop.stop()
            except Exception:
                log.exception("could not publish the start-up stop on %s", teleop.topic)

    @classmethod
    def from_settings(cls, graph: Graph, settings: Mapping[str, Any]) -> Control:
        """The robot's control from ``ROSWEB_*`` settings (defaults for those missing)."""
        from rosweb import config

        cfg = {**config.DEFAULTS, **settings}
        return cls(
            graph,
            topic=cfg["ROSWEB_TELEOP_TOPIC"],
            command_topics=cfg["ROSWEB_COMMAND_TOPICS"],
            linear_speed=cfg["ROSWEB_TELEOP_LINEAR_SPEED"],
            angular_speed=cfg["ROSWEB_TELEOP_ANGULAR_SPEED"],
            timeout=cfg["ROSWEB_TELEOP_TIMEOUT"],
            limits=VelocityLimits(cfg["ROSWEB_MAX_LINEAR_SPEED"], cfg["ROSWEB_MAX_ANGULAR_SPEED"]),
            lease_ttl=cfg["ROSWEB_CONTROL_TTL"],
            estop_rate=cfg["ROSWEB_ESTOP_RATE"],
            estop_file=estop_path(cfg["ROSWEB_ESTOP_FILE"], _robot_key(cfg)),
            stamped=_stamped_setting(cfg["ROSWEB_TELEOP_STAMPED"]),
            frame_id=cfg["ROSWEB_TELEOP_FRAME_ID"],
        )

    # -- what the web asks ----------------------------------------------------------------------

    @property
    def teleop(self) -> Teleop:
        """The deadman of the teleop topic."""
        return self._teleops[self.topic]

    @property
    def command_topics(self) -> list[str]:
        return list(self._teleops)

    def is_command_topic(self, topic: str) -> bool:
        return normalize_name(topic) in self._teleops

    def drive(
        self,
        topic: str,
        twist: Message,
        *,
        user: str,
        client: str = "",
        max_linear: float | None = None,
        max_angular: float | None = None,
    ) -> Message:
        """Publish a Twist on a command topic on ``user``'s behalf; returns what was published."""
        teleop = self._teleops.get(normalize_name(topic))
        if teleop is None:
            raise ValidationError(f"{topic} is not a command topic", "topic")
        if is_zero(twist):
            return teleop.drive(twist)  # a stop is never refused
        limits = VelocityLimits(
            min(self.limits.max_linear, max_linear if max_linear is not None else 1e9),
            min(self.limits.max_angular, max_angular if max_angular is not None else 1e9),
        )
        who = Operator(user, client)
        with self._lock:
            if self._estop is not None:
                raise EStopEngaged(
                    f"the e-stop is engaged (by {self._estop['by']}): clear it before driving"
                )
            taken_from = self.lease.acquire(who)
            if taken_from is not None:  # the lease had expired: nothing was moving for it
                log.info("control: %s took the lease (was %s)", who, taken_from)
            self._driven = True  # a driver took over: the start-up stops end
            return teleop.drive(limits.clamp(twist))

    def command(
        self,
        name: str,
        speed: float = 1.0,
        *,
        user: str,
        client: str = "",
        max_linear: float | None = None,
        max_angular: float | None = None,
    ) -> Message:
        """A teleop command (``forward``, ``back``, ``left``, ``right``, ``stop``) as a Twist."""
        twist = self.teleop.twist_of(name, speed)
        return self.drive(
            self.topic, twist, user=user, client=client,
            max_linear=max_linear, max_angular=max_angular,
        )  # fmt: skip

    def stop(self) -> None:
        """A zero Twist on every command topic, now."""
        for teleop in self._teleops.values():
            teleop.stop()

    def disconnected(self, user: str, client: str = "") -> None:
        """The operator's connection is gone: if they hold the lease, the robot stops now."""
        if self.lease.holds(Operator(user, client)) and self.moving:
            log.info("control: %s disconnected while driving: stop", Operator(user, client))
            self.stop()

    # -- the lease ------------------------------------------------------------------------------

    def acquire(self, *, user: str, client: str = "", force: bool = False) -> dict[str, Any]:
        """Take the lease (``force``: from whoever holds it; the robot stops first)."""
        who = Operator(user, client)
        if force and not self.lease.holds(who) and self.lease.holder is not None:
            self.stop()
        taken_from = self.lease.acquire(who, force=force)
        if taken_from is not None:
            log.warning("control: %s took over from %s", who, taken_from)
        return self.state()

    def release(self, *, user: str, client: str = "", force: bool = False) -> bool:
        """Give the lease back (the robot stops); False if ``user`` did not hold it."""
        who = Operator(user, client)
        holding = self.lease.holds(who)
        if (holding or force) and self.moving:
            self.stop()
        return self.lease.release(who, force=force)

    # -- the e-stop -----------------------------------------------------------------------------

    def engage_estop(self, *, user: str) -> dict[str, Any]:
        """Latch a stop: zero Twists now and repeatedly, motion refused until cleared."""
        with self._lock:
            if self._estop is None:
                self._estop = {"by": user, "since": round(time.time(), 3)}
                log.warning("control: e-stop engaged by %s", user)
                _save_estop(self.estop_file, self._estop)
            self.stop()
        self._estop_wake.set()
        return self.state()

    def clear_estop(self, *, user: str) -> dict[str, Any]:
        with self._lock:
            if self._estop is not None:
                log.warning("control: e-stop cleared by %s", user)
                _save_estop(self.estop_file, None)
            self._estop = None
        return self.state()

    def _repeat_stop(self) -> None:
        """Zero Twists at the e-stop rate while the e-stop is engaged, and at start-up."""
        while not self._closed:
            starting = self._startup_until > time.monotonic()
            if self._estop is None and not starting:
                self._estop_wake.wait()
                self._estop_wake.clear()
                continue
            with self._lock:  # a drive cannot slip between this check and the stop
                if self._estop is None and self._driven:
                    self._startup_until = 0.0
                    continue
                try:
                    for teleop in self._teleops.values():
                        teleop.publish(self._zero)
                except Exception:
                    if self._estop is not None:
                        log.exception("e-stop could not publish a stop")
            time.sleep(1.0 / self.estop_rate if self.estop_rate > 0 else 0.1)

    # -- state ----------------------------------------------------------------------------------

    @property
    def moving(self) -> bool:
        return any(t.moving for t in self._teleops.values())

    def state(self) -> dict[str, Any]:
        """Who drives, the e-stop, whether the robot is being moved."""
        return {
            **self.lease.state(),
            "ttl": self.lease.ttl,
            "estop": dict(self._estop) if self._estop is not None else None,
            "moving": self.moving,
        }

    def info(self) -> dict[str, Any]:
        """The teleop settings clients need to drive."""
        teleop = self.teleop
        return {
            "topic": self.topic,
            "command_topics": self.command_topics,
            "commands": list(COMMANDS),
            "linear_speed": teleop.linear_speed,
            "angular_speed": teleop.angular_speed,
            "timeout": teleop.timeout,
            "max_linear_speed": self.limits.max_linear,
            "max_angular_speed": self.limits.max_angular,
            "moving": self.moving,
            "deadman_stops": sum(t.deadman_stops for t in self._teleops.values()),
        }

    def close(self) -> None:
        """Stop the watchdogs (each moving topic gets a last stop) and the e-stop repeater."""
        self._closed = True
        self._estop_wake.set()
        for teleop in self._teleops.values():
            teleop.close()


def _stamped_setting(value: str) -> bool | None:
    """``ROSWEB_TELEOP_STAMPED``: ``auto`` (the topic's type at start-up), ``true``, ``false``."""
    choices = {"auto": None, "true": True, "false": False}
    if value.lower() not in choices:
        raise ConfigError(f"ROSWEB_TELEOP_STAMPED: expects auto, true or false, got {value!r}")
    return choices[value.lower()]


def _robot_key(cfg: Mapping[str, Any]) -> str:
    return f"{cfg['ROSWEB_BACKEND']} port {cfg['ROSWEB_PORT']} {cfg.get('ROSWEB_FLEET_ROBOT', '')}"


def estop_path(setting: str, robot: str) -> str:
    """The file of the e-stop latch: ``setting`` itself, nothing for ``""``, or for ``auto`` one
    per robot (its backend URL and the server's port: two servers of one machine never share a
    latch) in the user's state directory (``$XDG_STATE_HOME/rosweb``, by default
    ``~/.local/state/rosweb``)."""
    if setting != "auto":
        return os.path.expanduser(setting)
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    digest = hashlib.sha256(robot.encode()).hexdigest()[:12]
    return os.path.join(base, "rosweb", f"estop-{digest}.json")


def _restore_estop(path: str) -> dict[str, Any] | None:
    """The latch a previous process left engaged (a crash or a restart does not clear it)."""
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as file:
            state = json.load(file)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:  # unreadable: safer engaged than not
        log.error("control: cannot read the e-stop file %s (%s): e-stop engaged", path, err)
        return {"by": "unknown (unreadable e-stop file)", "since": round(time.time(), 3)}
    if not isinstance(state, dict):
        return {"by": "unknown (malformed e-stop file)", "since": round(time.time(), 3)}
    log.warning("control: the e-stop engaged by %s is still engaged (from %s)", state.get("by"),
                path)  # fmt: skip
    return {"by": str(state.get("by", "unknown")), "since": state.get("since", 0)}


def _save_estop(path: str, state: dict[str, Any] | None) -> None:
    """Write (or remove) the latch's file, atomically; a failure is logged, never raised (the
    e-stop itself must work without a disk)."""
    if not path:
        return
    try:
        if state is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(state, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as err:
        log.error("control: cannot write the e-stop file %s: %s", path, err)
