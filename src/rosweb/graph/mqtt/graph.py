"""The fleet as one graph: every robot behind the broker under its own namespace.

``mqtt://broker:1883`` (``mqtts://`` for TLS) shows robot ``r1``'s topic ``/odom`` as
``/r1/odom``, its service ``/reset`` as ``/r1/reset``, its parameter ``/robot/max_linear_speed``
as ``/r1/robot/max_linear_speed``; so REST, the rosbridge WebSocket, the client and the CLI
address one robot by its namespace, unchanged. Topics are those of the robots online now.

Telemetry (what each robot streams, ``ROSWEB_FLEET_TOPICS`` on the robot) arrives retained: a
subscriber gets the latest message at once, then each new one. Subscribing to a topic the robot
does not stream fetches its latest message once (a ``latest`` request). Publishing, service calls
and parameters are requests to the robot (QoS 1, answered through its ``resp/`` level); a Twist
to a robot's command topic goes through :class:`~rosweb.control.fleet.FleetControl` with
the person's name, and the robot's own guard decides.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rosweb.errors import (
    BackendUnavailable,
    GraphError,
    NotFoundError,
    RosWebError,
    ValidationError,
)  # fmt: skip
from rosweb.graph.base import Callback, Graph, Handle, ServiceHandler, normalize_name
from rosweb.graph.mqtt.contract import FleetOptions, decode
from rosweb.graph.mqtt.link import Incoming, MqttLink
from rosweb.graph.mqtt.robots import RobotEntry, decode_telemetry
from rosweb.graph.mqtt.rpc import Requests
from rosweb.messages import Message, TypeStore, from_json

__all__ = ["FleetGraph"]

log = logging.getLogger(__name__)

CONNECT_WAIT = 5.0  # seconds the backend waits for the broker at start-up (then: 503 until up)


class FleetGraph(Graph):
    """Every robot of one broker prefix, namespaced by robot name."""

    def __init__(self, url: str, settings: dict[str, Any] | None = None) -> None:
        cfg = settings or {}
        self.url = url
        self.options = FleetOptions.from_url(url, cfg)
        self.layout = self.options.layout
        self.types = TypeStore()
        self.service_timeout = float(cfg.get("ROSWEB_SERVICE_TIMEOUT", 10.0))
        self.command_ttl = float(cfg.get("ROSWEB_FLEET_COMMAND_TTL", 0.5))
        self.forged = 0  #: payloads dropped because they named another robot than their topic
        self.robots: dict[str, RobotEntry] = {}
        self.fleet_estop: dict[str, Any] | None = None
        self._subs: dict[str, list[tuple[Callback, Handle]]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(4, thread_name_prefix="rosweb-fleet-latest")
        requester = MqttLink.new_id("fleet")
        layout = self.layout
        self.link = MqttLink(
            self.options, client_id=requester,
            subscriptions=[(f"{layout.prefix}/+/status", 1), (f"{layout.prefix}/+/control", 1),
                           (f"{layout.prefix}/+/topic/#", 0), (layout.resp("+", requester), 1),
                           (layout.fleet_estop, 1)],
            on_message=self._message, on_disconnect=self._lost,
        )  # fmt: skip
        self.requests = Requests(self.link, layout, requester, self.options.encoding)
        self.link.start()
        self.link.wait(CONNECT_WAIT)

    # -- the broker's messages ------------------------------------------------------------------

    def _lost(self) -> None:
        self.requests.cancel_all()

    def entry(self, name: str) -> RobotEntry:
        with self._lock:
            entry = self.robots.get(name)
            if entry is None:
                entry = self.robots[name] = RobotEntry(name)
            return entry

    def _message(self, incoming: Incoming) -> None:
        parts = self.layout.split(incoming.topic)
        if parts is None:
            return
        robot, kind, rest = parts
        try:
            if incoming.topic == self.layout.fleet_estop:
                body = decode(incoming.payload, incoming.content_type) if incoming.payload else {}
                self.fleet_estop = body if isinstance(body, dict) and body.get("engaged") else None
            elif kind == "resp":
                answer = decode(incoming.payload, incoming.content_type)
                self.requests.answered(robot, incoming.correlation, answer)
            elif kind == "topic":
                self._telemetry(robot, "/" + rest, incoming)
            elif kind in ("status", "control") and incoming.payload:
                body = decode(incoming.payload, incoming.content_type)
                if not isinstance(body, dict):
                    raise ValidationError(f"{kind}: expects an object")
                if body.get("robot") != robot:
                    raise ValidationError(f"{kind} naming robot {body.get('robot')!r}", "robot")
                entry = self.entry(robot)
                if kind == "status":
                    entry.set_status(body)
                else:
                    with entry.lock:
                        entry.control = body
        except ValidationError as err:
            self.forged += 1
            log.warning("fleet: dropped %s: %s", incoming.topic, err)

    def _telemetry(self, robot: str, topic: str, incoming: Incoming) -> None:
        if not incoming.payload:
            return  # a retained message cleared
        type_name, msg, stamp = decode_telemetry(self.types, robot, incoming, topic)
        entry = self.entry(robot)
        with entry.lock:
            entry.latest[topic] = (type_name, msg, stamp)
            entry.last_seen = time.monotonic()
        self._deliver(f"/{robot}{topic}", msg)

    def _deliver(self, name: str, msg: Message) -> None:
        with self._lock:
            callbacks = [cb for cb, _ in self._subs.get(name, ())]
        for callback in callbacks:
            try:
                callback(msg)
            except Exception:
                log.exception("subscriber of %s failed", name)

    # -- names ----------------------------------------------------------------------------------

    def split(self, name: str) -> tuple[RobotEntry, str]:
        """(robot, its own name) of a fleet name: ``/r1/odom`` -> (r1, ``/odom``)."""
        name = normalize_name(name)
        head, _, rest = name[1:].partition("/")
        with self._lock:
            entry = self.robots.get(head)
        if entry is None:
            raise NotFoundError("robot", head, f"no robot {head!r} in the fleet (from {name})")
        return entry, "/" + rest

    def online(self) -> list[RobotEntry]:
        with self._lock:
            entries = list(self.robots.values())
        return sorted((e for e in entries if e.online), key=lambda e: e.name)

    def request(self, entry: RobotEntry, op: str, args: dict[str, Any], *, ttl: float | None = None,
                kind: str = "req", user: str = "", role: str = "",
                client: str = "") -> Any:  # fmt: skip
        if not self.link.connected.is_set():
            raise BackendUnavailable(f"the broker {self.options.url} is not connected")
        if not entry.online:
            raise BackendUnavailable(f"robot {entry.name} is offline")
        ttl = self.service_timeout if ttl is None else ttl
        return self.requests.send(entry.name, kind, op, args, ttl=ttl, user=user, role=role,
                                  client=client)  # fmt: skip

    # -- topics ---------------------------------------------------------------------------------

    def topics(self) -> dict[str, str]:
        return {f"/{e.name}{t}": ty for e in self.online() for t, ty in e.topics().items()}

    def advertise(self, topic: str, type_name: str, *, latch: bool = False) -> Handle:
        self.split(topic)
        return Handle(normalize_name(topic), type_name, lambda handle: None)

    def publish(self, topic: str, type_name: str, msg: Message, *, latch: bool = False) -> None:
        entry, own = self.split(topic)
        self.request(entry, "publish", {"topic": own, "type": type_name, "msg": msg,
                                        "latch": latch})  # fmt: skip

    def subscribe(self, topic: str, callback: Callback, type_name: str | None = None) -> Handle:
        name = normalize_name(topic)
        entry, own = self.split(name)
        known = entry.topics().get(own)
        if known is None and not type_name:
            raise NotFoundError("topic", name)
        handle = Handle(name, known or str(type_name), self._unsubscribe)
        with self._lock:
            self._subs.setdefault(name, []).append((callback, handle))
        with entry.lock:
            latest = entry.latest.get(own)
        streamed = own in (entry.field("telemetry", {}) or {})
        if latest is not None:
            self._pool.submit(callback, latest[1])  # the retained message, off the caller
        elif not streamed and entry.online:
            self._pool.submit(self._fetch_latest, entry, own, name)
        return handle

    def _fetch_latest(self, entry: RobotEntry, own: str, name: str) -> None:
        try:
            found = self.request(entry, "latest", {"topic": own, "timeout": 1.0}, ttl=2.0)
        except RosWebError as err:
            log.info("fleet: no latest message of %s: %s", name, err)
            return
        if found:
            msg = from_json(self.types, found["type"], found["msg"])
            with entry.lock:
                entry.latest[own] = (found["type"], msg, float(found.get("stamp") or 0.0))
            self._deliver(name, msg)

    def _unsubscribe(self, handle: Handle) -> None:
        with self._lock:
            subs = self._subs.get(handle.name, [])
            subs[:] = [(cb, h) for cb, h in subs if h is not handle]
            if not subs:
                self._subs.pop(handle.name, None)

    # -- services -------------------------------------------------------------------------------

    def services(self) -> dict[str, str]:
        return {f"/{e.name}{s}": t for e in self.online()
                for s, t in (e.field("services", {}) or {}).items()}  # fmt: skip

    def call_service(self, name: str, request: Message, *, timeout: float | None = None) -> Message:
        entry, own = self.split(name)
        type_name = self.service_type(name)
        ttl = timeout if timeout is not None else self.service_timeout
        result = self.request(entry, "call", {"service": own, "request": request,
                                              "timeout": ttl}, ttl=ttl + 1.0)  # fmt: skip
        return from_json(self.types, self.types.service(type_name).response, result or {})

    def provide_service(self, name: str, type_name: str, handler: ServiceHandler) -> Handle:
        raise GraphError(f"a fleet server cannot provide {name} to its robots")

    # -- parameters -----------------------------------------------------------------------------

    def param_names(self) -> list[str]:
        return sorted(f"/{e.name}{p}" for e in self.online() for p in e.field("params", []) or [])

    def param_meta(self) -> dict[str, dict[str, Any]]:
        return {f"/{e.name}{p}": dict(info) for e in self.online()
                for p, info in (e.field("param_meta", {}) or {}).items()}  # fmt: skip

    def get_param(self, name: str) -> Any:
        if normalize_name(name) == "/":
            return {e.name: self.get_param(f"/{e.name}") for e in self.online()}
        entry, own = self.split(name)
        return self.request(entry, "get_param", {"name": own})

    def set_param(self, name: str, value: Any) -> None:
        entry, own = self.split(name)
        self.request(entry, "set_param", {"name": own, "value": value})

    def delete_param(self, name: str) -> None:
        entry, own = self.split(name)
        self.request(entry, "delete_param", {"name": own})

    # -- introspection, lifetime ----------------------------------------------------------------

    def nodes(self) -> list[str]:
        return sorted(f"/{e.name}{n}" for e in self.online() for n in e.field("nodes", []) or [])

    def health(self) -> dict[str, Any]:
        with self._lock:
            seen = len(self.robots)
        return {
            "ok": self.link.connected.is_set(), "broker": self.options.url,
            "connects": self.link.connects, "refused": self.link.refused,
            "robots": seen, "online": len(self.online()),
            "forged": self.forged + self.requests.forged,
        }  # fmt: skip

    def close(self) -> None:
        self.link.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
