"""The robot's side of a fleet: its Robot served over MQTT (``rosweb run --fleet URL``).

The bridge connects out to the broker as robot ``NAME`` and serves the robot through its own
guard, as the fleet identity (``ROSWEB_FLEET_ROLE``; a person named by the fleet server acts with
the lower of their role and that one). It publishes the robot's status (retained; the MQTT will
turns it offline when the link dies), its control state, the chosen telemetry and its type
schemas, and it executes commands and requests addressed to it:

- **commands** (``cmd/drive``, ``cmd/teleop``, ``cmd/stop``, ``cmd/disconnected``) run at once,
  on the network thread, in the order they came; one older than its ``ttl`` (at most
  ``ROSWEB_FLEET_COMMAND_TTL``) or addressed to another robot is refused, a stop never is;
- **requests** (``req/publish``, ``req/call``, params, lease, e-stop, ``latest``, ``schema``) run
  on ``ROSWEB_FLEET_WORKERS`` threads, at most ``ROSWEB_FLEET_MAX_PENDING`` waiting (beyond:
  ``too_busy``); a request seen twice (QoS 1 redelivery) is answered from a cache, not re-run.

When the broker goes away, whoever drove through it is treated as disconnected (the robot stops
at once), and the deadman would stop it anyway ``ROSWEB_TELEOP_TIMEOUT`` after the last command.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rosweb.core import Caller, GuardedRobot, Robot
from rosweb.core.policy import ROLES
from rosweb.errors import BadRequest, ConfigError, RosWebError, TooBusy, ValidationError
from rosweb.fleet.telemetry import Telemetry
from rosweb.graph.mqtt.contract import (
    JSON,
    FleetOptions,
    check_fresh,
    decode,
    encode,
    parse_topic_rates,
)  # fmt: skip
from rosweb.graph.mqtt.link import Incoming, MqttLink
from rosweb.messages import describe
from rosweb.version import __version__

__all__ = ["RobotBridge"]

log = logging.getLogger(__name__)

SCAN_INTERVAL = 2.0  # seconds between looks for new topics, services, parameters
CONTROL_INTERVAL = 0.25  # seconds between looks at the control state (published on change)
ANSWERED = 512  # request answers kept to answer a redelivered request (QoS 1) again
CALLERS = 256  # bound robots kept, one per (user, role, client)
MAX_REQUEST_TTL = 3600.0  # the longest a request may hold (its ttl: the requester's timeout)


class RobotBridge:
    """Serve ``robot`` to a broker: ``start()``, then ``close()``."""

    def __init__(self, robot: Robot, settings: dict[str, Any]) -> None:
        self.options = FleetOptions.from_url(settings["ROSWEB_FLEET"], settings)
        if not self.options.robot:
            raise ConfigError(
                "the fleet URL names no robot: add ?robot=NAME (or ROSWEB_FLEET_ROBOT)"
            )
        self.name = self.options.robot
        self.layout = self.options.layout
        role = settings["ROSWEB_FLEET_ROLE"]
        if role not in ROLES:
            raise ConfigError(f"ROSWEB_FLEET_ROLE: expects one of {list(ROLES)}, got {role!r}")
        self.identity = Caller(self.options.username or "fleet", role, "mqtt", "mqtt")
        self.robot = robot
        self.base = robot.bind(self.identity, remote=self.options.url, via="mqtt")
        self.command_ttl = float(settings["ROSWEB_FLEET_COMMAND_TTL"])
        self.telemetry = Telemetry(
            self.base, self.name, self.layout, parse_topic_rates(settings["ROSWEB_FLEET_TOPICS"]),
            self._send, encoding=self.options.encoding,
            jpeg_quality=int(settings["ROSWEB_FLEET_JPEG_QUALITY"]),
            jpeg_width=int(settings["ROSWEB_FLEET_JPEG_WIDTH"]),
        )  # fmt: skip
        self.refused = 0  #: commands and requests refused (expired, misaddressed, malformed)
        self.executed = 0  #: commands executed
        self.started = time.time()
        self._max_pending = int(settings["ROSWEB_FLEET_MAX_PENDING"])
        self._pending = 0
        self._pool = ThreadPoolExecutor(int(settings["ROSWEB_FLEET_WORKERS"]) or 1,
                                        thread_name_prefix="rosweb-fleet")  # fmt: skip
        self._answered: collections.OrderedDict[bytes, bytes | None] = collections.OrderedDict()
        self._callers: dict[tuple[str, str, str], GuardedRobot] = {}
        self._drivers: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._status: dict[str, Any] = {}
        self._control: dict[str, Any] | None = None
        self._schemas: set[str] = set()
        layout, name = self.layout, self.name
        self.link = MqttLink(
            self.options, client_id=f"rosweb-robot-{name}",
            subscriptions=[(layout.cmd(name, "#"), 0), (layout.req(name, "#"), 1),
                           (layout.fleet_estop, 1)],
            on_message=self._message, will=(layout.status(name), self._offline()),
            on_connect=self._connected, on_disconnect=self._link_lost,
        )  # fmt: skip
        self._thread = threading.Thread(target=self._watch, name="rosweb-fleet-watch",
                                        daemon=True)  # fmt: skip

    # -- lifetime -----------------------------------------------------------------------------

    def start(self) -> RobotBridge:
        self.link.start()
        self._thread.start()
        return self

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self.telemetry.close()
        self.link.close(last=(self.layout.status(self.name), self._offline()))
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._thread.join(timeout=2)

    def _offline(self) -> bytes:
        return encode({"robot": self.name, "online": False, "since": time.time()})

    def _connected(self) -> None:
        self._status = {}  # publish everything again on the new connection
        self._control = None
        self._schemas.clear()

    def _link_lost(self) -> None:
        """Whoever drove through the broker is gone: stop now (the deadman would, soon)."""
        with self._lock:
            drivers = list(self._drivers)
            self._drivers.clear()
        for user, client in drivers:
            try:
                self.robot.bind(Caller(user, "viewer", client, "mqtt")).disconnected()
            except RosWebError:
                log.exception("could not stop for %s/%s", user, client)
        if drivers:
            log.warning("fleet: the broker is gone: the robot stopped for %s", drivers)

    def _send(self, topic: str, payload: bytes, content_type: str, user: dict[str, str]) -> None:
        self.link.publish(topic, payload, qos=0, retain=True, content_type=content_type,
                          user=user or None)  # fmt: skip

    # -- what the robot says about itself -------------------------------------------------------

    def _watch(self) -> None:
        last_scan = 0.0
        while not self._closed.wait(CONTROL_INTERVAL):
            if not self.link.connected.is_set():
                continue
            try:
                if time.monotonic() - last_scan > SCAN_INTERVAL or not self._status:
                    last_scan = time.monotonic()
                    self._publish_status()
                self._publish_control()
            except RosWebError as err:
                log.debug("fleet status: %s", err)
            except Exception:
                log.exception("fleet status failed")

    def status(self) -> dict[str, Any]:
        base = self.base
        topics = base.topics()
        self.telemetry.scan(topics)
        return {
            "robot": self.name, "online": True, "since": self.started, "version": __version__,
            "encoding": self.options.encoding, "topics": topics, "services": base.services(),
            "nodes": base.nodes(), "params": base.param_names(), "param_meta": base.param_meta(),
            "telemetry": self.telemetry.chosen(), "teleop": base.teleop_info(),
            "role": self.identity.role,
        }  # fmt: skip

    def _publish_status(self) -> None:
        status = self.status()
        comparable = {k: v for k, v in status.items() if k != "teleop"}
        if comparable != self._status:
            self._status = comparable
            self.link.publish(self.layout.status(self.name), encode(status), qos=1, retain=True,
                              content_type=JSON)  # fmt: skip
        for type_name in {*status["topics"].values(), *status["services"].values()}:
            if type_name in self._schemas:
                continue
            try:
                schema = describe(self.base.types, type_name)
            except RosWebError:
                continue
            self._schemas.add(type_name)
            self.link.publish(self.layout.types(self.name, type_name), encode(schema), qos=1,
                              retain=True, content_type=JSON)  # fmt: skip

    def _publish_control(self) -> None:
        state = self.base.control_state()
        state.pop("expires_in", None)  # changes every tick: the fleet computes it from since/ttl
        if state != self._control:
            self._control = state
            self.link.publish(self.layout.control(self.name),
                              encode({"robot": self.name, **state}), qos=1, retain=True,
                              content_type=JSON)  # fmt: skip

    # -- what the fleet asks --------------------------------------------------------------------

    def _caller(self, body: dict[str, Any]) -> GuardedRobot:
        """The robot as the person the fleet names: their role, never above the fleet's."""
        user = body.get("user") or self.identity.user
        client = body.get("client") or ""
        role = body.get("role") or self.identity.role
        if not (isinstance(user, str) and isinstance(client, str) and role in ROLES):
            raise ValidationError("user, client: expects strings; role: viewer, operator, admin")
        if ROLES[role] > ROLES[self.identity.role]:
            role = self.identity.role
        key = (user[:64], role, client[:64])  # the fleet's client id: the page knows its lease
        with self._lock:
            bound = self._callers.get(key)
            if bound is None:
                if len(self._callers) >= CALLERS:
                    self._callers.clear()
                bound = self._callers[key] = self.robot.bind(
                    Caller(key[0], role, key[2], "mqtt"), remote=self.options.url, via="mqtt"
                )
        return bound

    def _message(self, incoming: Incoming) -> None:
        parts = self.layout.split(incoming.topic)
        if incoming.topic == self.layout.fleet_estop:
            self._fleet_estop(incoming)
            return
        if parts is None or parts[0] != self.name or parts[1] not in ("cmd", "req"):
            return
        _, kind, op = parts
        if kind == "cmd":
            self._answer(incoming, lambda: self._command(op, incoming), qos=0)
            return
        key = incoming.correlation
        with self._lock:
            if key is not None and key in self._answered:
                answer = self._answered[key]
                if answer is not None and incoming.response_topic:  # done: say it again
                    self._reply(incoming, answer, qos=1)
                return  # a redelivery while the first one runs
            if self._pending >= self._max_pending:
                busy = TooBusy(f"robot {self.name}: {self._pending} requests wait already "
                               "(ROSWEB_FLEET_MAX_PENDING)")  # fmt: skip
                self._reply(incoming, self._error_payload(busy, incoming), qos=1)
                return
            self._pending += 1
            if key is not None:
                self._answered[key] = None
                while len(self._answered) > ANSWERED:
                    self._answered.popitem(last=False)
        self._pool.submit(self._run_request, op, incoming)

    def _run_request(self, op: str, incoming: Incoming) -> None:
        try:
            payload = self._answer(incoming, lambda: self._request(op, incoming), qos=1)
            if incoming.correlation is not None:
                with self._lock:
                    if incoming.correlation in self._answered:
                        self._answered[incoming.correlation] = payload
        finally:
            with self._lock:
                self._pending -= 1

    def _answer(self, incoming: Incoming, run: Any, qos: int) -> bytes:
        try:
            payload = self._encode({"ok": True, "result": run()}, incoming)
        except RosWebError as err:
            if isinstance(err, ValidationError | BadRequest):
                self.refused += 1
            log.info("fleet %s refused: %s", incoming.topic, err)
            payload = self._error_payload(err, incoming)
        except Exception as err:
            log.exception("fleet %s failed", incoming.topic)
            payload = self._error_payload(RosWebError(f"{type(err).__name__}: {err}"), incoming)
        self._reply(incoming, payload, qos)
        return payload

    def _encode(self, value: Any, incoming: Incoming) -> bytes:
        return encode(value, incoming.content_type or JSON)

    def _error_payload(self, err: RosWebError, incoming: Incoming) -> bytes:
        return self._encode({"ok": False, "error": {**err.body(), **err.to_wire()}}, incoming)

    def _reply(self, incoming: Incoming, payload: bytes, qos: int) -> None:
        topic = incoming.response_topic
        if not topic:
            return
        if not topic.startswith(self.layout.resp(self.name, "")) or "+" in topic or "#" in topic:
            log.warning("fleet: not answering to %r (outside this robot's resp/ subtree)", topic)
            return
        try:
            self.link.publish(topic, payload, qos=qos, correlation=incoming.correlation,
                              content_type=incoming.content_type or JSON)  # fmt: skip
        except RosWebError as err:
            log.info("fleet: cannot answer %s: %s", incoming.topic, err)

    def _body(self, incoming: Incoming, max_ttl: float, *, motion: bool = True) -> dict[str, Any]:
        body = decode(incoming.payload, incoming.content_type)
        if motion:
            check_fresh(body, self.name, max_ttl)
        elif not isinstance(body, dict) or body.get("robot") != self.name:
            named = body.get("robot") if isinstance(body, dict) else None
            raise ValidationError(f"addressed to robot {named!r}, this is {self.name!r}", "robot")
        return dict(body)

    def _command(self, op: str, incoming: Incoming) -> Any:
        stop = op in ("stop", "disconnected")
        body = self._body(incoming, self.command_ttl, motion=not stop)
        bound = self._caller(body)
        if op == "drive":
            sent = bound.drive(body.get("twist") or {}, body.get("topic") or None)
        elif op == "teleop":
            sent = bound.teleop(body.get("command", ""), body.get("speed", 1.0))
        elif op == "stop":
            bound.stop()
            return None
        elif op == "disconnected":
            bound.disconnected()
            return None
        else:
            raise ValidationError(f"unknown command {op!r}: drive, teleop, stop, disconnected")
        self.executed += 1
        with self._lock:
            self._drivers.add((bound.caller.user, bound.caller.client))
        return sent

    def _request(self, op: str, incoming: Incoming) -> Any:
        body = self._body(incoming, MAX_REQUEST_TTL)  # a request holds for its own ttl
        bound = self._caller(body)
        if op == "publish":
            return bound.publish(body.get("topic", ""), body.get("msg"), body.get("type") or None,
                                 latch=bool(body.get("latch")))  # fmt: skip
        if op == "call":
            timeout = body.get("timeout")
            return bound.call(body.get("service", ""), body.get("request"),
                              timeout=float(timeout) if timeout else None)  # fmt: skip
        if op == "get_param":
            return bound.get_param(body.get("name", ""))
        if op == "set_param":
            return bound.set_param(body.get("name", ""), body.get("value"))
        if op == "delete_param":
            bound.delete_param(body.get("name", ""))
            return None
        if op == "latest":
            envelope = bound.latest(body.get("topic", ""), float(body.get("timeout") or 0.0))
            if envelope is None:
                return None
            return {"type": envelope.type, "stamp": envelope.received, "msg": envelope.msg}
        if op == "schema":
            return bound.schema(body.get("type", ""))
        if op == "control":
            return bound.control_state()
        if op == "acquire":
            return bound.acquire(force=bool(body.get("force")))
        if op == "release":
            return bound.release(force=bool(body.get("force")))
        if op == "estop":
            return bound.estop()
        if op == "clear_estop":
            return bound.clear_estop()
        raise ValidationError(f"unknown request {op!r}")

    def _fleet_estop(self, incoming: Incoming) -> None:
        """The fleet-wide e-stop (retained): engage now; a clear lifts only the fleet's latch."""
        try:
            body = decode(incoming.payload, incoming.content_type)
        except ValidationError:
            body = {"engaged": True}  # unreadable: stopping is the safe reading
        if not isinstance(body, dict):
            body = {"engaged": True}
        by = f"fleet:{body.get('by') or 'fleet'}"
        bound = self.robot.bind(Caller(by, self.identity.role, "mqtt:fleet", "mqtt"),
                                remote=self.options.url, via="mqtt")  # fmt: skip
        if body.get("engaged", True):
            bound.estop()
            log.warning("fleet: fleet-wide e-stop engaged by %s", by)
            return
        estop = bound.control_state().get("estop")
        if (
            estop
            and str(estop.get("by", "")).startswith("fleet:")
            and bound.caller.at_least("operator")
        ):
            bound.clear_estop()
            log.warning("fleet: fleet-wide e-stop cleared")
