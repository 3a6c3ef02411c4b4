"""The rosbridge v2 protocol, message in, messages out: no socket anywhere in here.

A :class:`BridgeSession` is one client. The transport calls :meth:`receive` with each incoming
frame and, whenever the session's ``wake`` callback fires, takes the frames to send with
:meth:`outgoing`. Topic data comes from the hub (one backend subscription per topic for all
sessions; one encoding per message and encoding for all sessions); each subscription has its own
bounded drop-oldest queue, and :meth:`outgoing` takes one message per subscription in turn, so a
slow client loses its own old messages and one big topic cannot starve the others.

Ops are handled by one function each, registered in :data:`OPS`; a bad op gets a ``status``
message naming the op, the field and the offending ``id``.

Every op acts as the session's :class:`~rosweb.web.actions.Actor` (who the client is): each op
needs a role (:data:`OP_ROLES`), names are checked against the allow/deny lists, motion goes
through the robot's control (e-stop, lease, limits, deadman), writes are rate limited. A client
that connected without credentials may only send ``{"op": "auth", "token": ...}`` until it has.
Two ops are rosweb's own: ``auth``, and ``control`` (``action``: ``acquire``, ``release`` or
``state``; ``force`` for admins) for the control lease.
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from rosweb.errors import (
    AuthError,
    NotFoundError,
    RosWebError,
    ServiceError,
    ServiceTimeout,
    ValidationError,
)
from rosweb.graph import Graph, Handle, normalize_name
from rosweb.hub import Consumer, Envelope, Hub
from rosweb.messages import Message, TypeStore, from_json, to_ros1
from rosweb.web.actions import Actor
from rosweb.web.bridge.frames import Frame, FrameError, decode, encode, fragments
from rosweb.web.bridge.rosapi import ROSAPI, call_rosapi

__all__ = ["OPS", "OP_ROLES", "BridgeOptions", "BridgeSession"]

log = logging.getLogger(__name__)

LEVELS = {"info": 0, "warning": 1, "error": 2, "none": 3}
COMPRESSIONS = ("none", "cbor", "cbor-raw")


@dataclass(frozen=True)
class BridgeOptions:
    """Limits and defaults of a session."""

    queue_length: int = 10  # per subscription, when the client does not say
    max_queue_length: int = 1000
    service_timeout: float = 10.0  # default of call_service, and of browser-provided services
    fragment_timeout: float = 60.0  # an incomplete inbound fragmented message is dropped after
    max_message_size: int = 64 << 20  # bytes of one (reassembled) inbound message


class OpError(Exception):
    """A bad op: reported to the client as a ``status`` error."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class _Subscription:
    consumer: Consumer
    name: str  # as the client wrote it: clients match frames by that exact string
    sids: dict[str | None, dict[str, Any]] = field(default_factory=dict)
    compression: str = "none"
    fragment_size: int | None = None


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    values: Any = None
    result: bool = False


def _publish_frame(store: TypeStore, topic: str, compression: str) -> Callable[[Envelope], Frame]:
    """How one topic's messages look on the wire in one compression (made once per message)."""

    def as_json(envelope: Envelope) -> Frame:
        return f'{{"op":"publish","topic":{json.dumps(topic)},"msg":{envelope.json}}}'

    def as_cbor(envelope: Envelope) -> Frame:
        return encode({"op": "publish", "topic": topic, "msg": envelope.msg}, "cbor")

    def as_cbor_raw(envelope: Envelope) -> Frame:  # the ROS 1 serialization, as rosbridge does
        secs = int(envelope.received)
        raw = {
            "secs": secs,
            "nsecs": int((envelope.received - secs) * 1e9),
            "bytes": to_ros1(store, envelope.type, envelope.msg),
        }
        return encode({"op": "publish", "topic": topic, "msg": raw}, "cbor")

    return {"none": as_json, "cbor": as_cbor, "cbor-raw": as_cbor_raw}[compression]


_KIND_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _get(msg: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    """``msg[key]`` if it is of ``kind`` (a bool is not a number), ``default`` if absent."""
    value = msg.get(key)
    if value is None:
        return default
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join(_KIND_NAMES[k] for k in kinds)
        got = json.dumps(value, default=str)[:40]
        raise OpError(f"field {key} expects {expected}, got {got}", key)
    if isinstance(value, float) and not math.isfinite(value):  # NaN, Infinity: JSON allows them
        raise OpError(f"field {key} expects a finite number, got {value}", key)
    return value


def _required(msg: dict[str, Any], key: str, kind: type | tuple[type, ...] = str) -> Any:
    if msg.get(key) is None:
        raise OpError(f"missing field {key}", key)
    return _get(msg, key, kind)


class BridgeSession:
    """One rosbridge client: feed it frames, take frames from it."""

    def __init__(
        self,
        graph: Graph,
        hub: Hub,
        *,
        wake: Callable[[], None],
        executor: Executor,
        actor: Actor | None,
        login: Callable[[str], Actor] | None = None,
        rate_limit: Callable[[str], None] | None = None,
        options: BridgeOptions | None = None,
    ) -> None:
        self.graph = graph
        self.hub = hub
        #: who the client is; None until it authenticates (with ``login``, by an auth op)
        self.actor = actor
        self._login = login
        self._rate_limit = rate_limit
        self.options = options or BridgeOptions()
        self._wake = wake
        self._executor = executor
        self._lock = threading.RLock()
        self._control: collections.deque[Frame] = collections.deque()
        self._subscriptions: dict[str, _Subscription] = {}
        self._turn: collections.deque[str] = collections.deque()  # round-robin over topics
        self._publishers: dict[str, Handle] = {}
        self._services: dict[str, Handle] = {}
        self._pending: dict[str, _Pending] = {}
        self._fragments: dict[str, tuple[float, int, dict[int, str]]] = {}
        self._latched: set[str] = set()  # topics this client advertised with latch
        self._ids = itertools.count(1)
        self._status_level = LEVELS["error"]
        self.closed = False

    # -- in -------------------------------------------------------------------------------------

    def receive(self, data: Frame) -> None:
        """Handle one incoming frame; replies and errors become outgoing frames."""
        try:
            message = decode(data)
        except FrameError as err:
            self.status("error", str(err))
            return
        self.handle(message)

    def handle(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        raw_id = message.get("id")
        mid = raw_id if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else None
        handler = OPS.get(op) if isinstance(op, str) else None
        if handler is None:
            self.status("error", f"unknown op {op!r}" if op else "missing field op", mid)
            return
        try:
            self._allow(str(op), message)
            handler(self, message)
        except OpError as err:
            self.status("error", f"{op}: {err}", mid)
        except RosWebError as err:
            self.status("error", f"{op}: {err}", mid)
        except Exception as err:  # a bug of ours: the client still gets an answer
            log.exception("rosbridge op %s failed", op)
            self.status("error", f"{op}: internal error ({type(err).__name__})", mid)

    def _allow(self, op: str, message: dict[str, Any]) -> None:
        """Raise unless the client may send this op now: authenticated, role, rate."""
        role = OP_ROLES[op]
        if role is None:
            return
        if self.actor is None:
            raise AuthError('not authenticated: send {"op": "auth", "token": "..."} first')
        service = message.get("service")
        if op == "call_service" and isinstance(service, str) and service in ROSAPI:
            role = "viewer"  # introspection; rosapi's own writes check their role
        self.actor.require(role, f"op {op}")
        if op in RATE_LIMITED_OPS and self._rate_limit is not None:
            self._rate_limit(op)

    @property
    def _act(self) -> Actor:
        if self.actor is None:  # pragma: no cover - _allow refused the op already
            raise AuthError("not authenticated")
        return self.actor

    # -- out ------------------------------------------------------------------------------------

    def send(self, message: dict[str, Any], compression: str = "none") -> None:
        """Queue a control message (status, service response, request to the client)."""
        with self._lock:
            self._control.append(encode(message, compression))
        self._wake()

    def status(self, level: str, text: str, mid: str | int | None = None) -> None:
        if LEVELS[level] < self._status_level:
            return
        message: dict[str, Any] = {"op": "status", "level": level, "msg": text}
        if mid is not None:
            message["id"] = mid
        self.send(message)

    def outgoing(self, limit: int = 1000) -> list[Frame]:
        """Frames ready to send: control messages first, then one message per subscription in
        turn, until ``limit`` frames or nothing is left."""
        frames: list[Frame] = []
        with self._lock:
            while self._control and len(frames) < limit:
                frames.append(self._control.popleft())
            idle = 0
            while self._turn and len(frames) < limit and idle < len(self._turn):
                topic = self._turn[0]
                self._turn.rotate(-1)
                subscription = self._subscriptions.get(topic)
                envelope = subscription.consumer.get(timeout=0) if subscription else None
                if envelope is None or subscription is None:
                    idle += 1
                    continue
                idle = 0
                frames.extend(self._frames_of(subscription, envelope))
        return frames

    def _frames_of(self, subscription: _Subscription, envelope: Envelope) -> list[Frame]:
        key = ("publish", subscription.name, subscription.compression)
        frame = envelope.encoded(
            key, _publish_frame(self.graph.types, subscription.name, subscription.compression)
        )
        size = subscription.fragment_size
        if size and isinstance(frame, str) and len(frame) > size:
            fragment_id = f"publish:{envelope.topic}:{next(self._ids)}"
            return list(fragments(frame, size, fragment_id))
        return [frame]

    # -- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        """Undo everything the client did: subscriptions, publishers, services; fail waits."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            subscriptions = list(self._subscriptions.values())
            self._subscriptions.clear()
            self._turn.clear()
            handles = [*self._publishers.values(), *self._services.values()]
            self._publishers.clear()
            self._services.clear()
            pending = list(self._pending.values())
            self._pending.clear()
        for subscription in subscriptions:
            subscription.consumer.close()
        for handle in handles:
            handle.close()
        for waiting in pending:
            waiting.values = "the client providing the service disconnected"
            waiting.done.set()
        if self.actor is not None:  # the deadman: a driver's connection went away
            principal = self.actor.principal
            try:
                self.actor.state.control.disconnected(principal.user, principal.client)
            except Exception:
                log.exception("could not stop the robot for a disconnected client")

    # -- ops: topics ----------------------------------------------------------------------------

    def _advertise(self, msg: dict[str, Any]) -> None:
        topic = normalize_name(_required(msg, "topic"))
        type_name = _required(msg, "type")
        latch = _get(msg, "latch", bool, False)
        with self._lock:
            existing = self._publishers.get(topic)
        if existing is not None:
            if existing.type != type_name:
                raise OpError(f"{topic} is advertised with type {existing.type}", "type")
            return
        if not self.graph.types.has_message(type_name):
            raise OpError(f"unknown message type {type_name!r}", "type")
        self._act.advertise(topic, type_name)
        handle = self.graph.advertise(topic, type_name, latch=latch)
        with self._lock:
            self._publishers[topic] = handle
            if latch:
                self._latched.add(topic)

    def _unadvertise(self, msg: dict[str, Any]) -> None:
        topic = normalize_name(_required(msg, "topic"))
        with self._lock:
            handle = self._publishers.pop(topic, None)
            self._latched.discard(topic)
        if handle is None:
            raise OpError(f"{topic} is not advertised by this client", "topic")
        handle.close()

    def _publish(self, msg: dict[str, Any]) -> None:
        topic = normalize_name(_required(msg, "topic"))
        latch = _get(msg, "latch", bool, False)
        self._act.write("topic", topic)
        with self._lock:
            handle = self._publishers.get(topic)
        if handle is None:
            try:
                type_name = self.graph.topic_type(topic)
            except NotFoundError:
                raise OpError(
                    f"cannot infer the type of {topic}: advertise it first", "topic"
                ) from None
            self._advertise({"topic": topic, "type": type_name, "latch": latch})
        else:
            type_name = handle.type
        latch = latch or topic in self._latched
        try:
            message = from_json(self.graph.types, type_name, msg.get("msg"))
        except ValidationError as err:
            where = f"msg.{err.field}" if err.field else "msg"
            raise OpError(f"to {topic}: field {where} {err.reason}", where) from None
        self._act.publish(topic, type_name, message, latch=latch)

    def _subscribe(self, msg: dict[str, Any]) -> None:
        topic = normalize_name(_required(msg, "topic"))
        type_name = _get(msg, "type", str)
        sid = _get(msg, "id", (str, int))
        throttle = _get(msg, "throttle_rate", (int, float), 0)
        queue_length = _get(msg, "queue_length", int, self.options.queue_length)
        fragment_size = _get(msg, "fragment_size", int)
        compression = _get(msg, "compression", str, "none")
        if compression not in COMPRESSIONS:
            raise OpError(
                f"compression {compression!r} is not one of {COMPRESSIONS}", "compression"
            )
        self._act.see("topic", topic)
        if throttle < 0 or queue_length < 0 or (fragment_size is not None and fragment_size < 1):
            raise OpError("throttle_rate, queue_length and fragment_size must be positive")
        params = {
            "throttle_rate": throttle,
            "queue_length": min(max(queue_length, 1), self.options.max_queue_length),
            "fragment_size": fragment_size,
            "compression": compression,
        }
        with self._lock:
            subscription = self._subscriptions.get(topic)
        if subscription is None:
            consumer = self.hub.consume(
                topic, type_name or None, queue_length=params["queue_length"],
                throttle_rate=throttle, notify=lambda _c: self._wake(),
            )  # fmt: skip
            subscription = _Subscription(consumer, _required(msg, "topic"))
            with self._lock:
                self._subscriptions[topic] = subscription
                self._turn.append(topic)
        elif type_name and type_name != subscription.consumer.type:
            raise OpError(f"{topic} has type {subscription.consumer.type}", "type")
        with self._lock:
            subscription.sids[sid] = params
            self._merge(subscription)
        self._wake()

    def _merge(self, subscription: _Subscription) -> None:
        """Several subscriptions to one topic share one stream, as in rosbridge: the smallest
        throttle and fragment size, the largest queue, CBOR if any asks for it."""
        params = list(subscription.sids.values())
        consumer = subscription.consumer
        consumer.throttle = min(p["throttle_rate"] for p in params) / 1000.0
        consumer.resize(max(p["queue_length"] for p in params))
        sizes = [p["fragment_size"] for p in params if p["fragment_size"]]
        subscription.fragment_size = min(sizes) if sizes else None
        asked = {p["compression"] for p in params}
        subscription.compression = next(
            (c for c in ("cbor-raw", "cbor") if c in asked), "none"
        )  # binary if any subscription asked for it, as rosbridge

    def _unsubscribe(self, msg: dict[str, Any]) -> None:
        topic = normalize_name(_required(msg, "topic"))
        sid = _get(msg, "id", (str, int))
        with self._lock:
            subscription = self._subscriptions.get(topic)
            if subscription is None:
                return  # rosbridge ignores unsubscribing what is not subscribed
            if sid is not None and sid not in subscription.sids:
                return  # as rosbridge: only the subscription with this id is cancelled
            if sid is not None and len(subscription.sids) > 1:
                del subscription.sids[sid]
                self._merge(subscription)
                return
            del self._subscriptions[topic]
            self._turn.remove(topic)
        subscription.consumer.close()

    # -- ops: services --------------------------------------------------------------------------

    def _call_service(self, msg: dict[str, Any]) -> None:
        service = normalize_name(_required(msg, "service"))
        mid = _get(msg, "id", (str, int))
        args = msg.get("args")
        timeout = _get(msg, "timeout", (int, float), self.options.service_timeout)
        compression = _get(msg, "compression", str, "none")
        if compression not in COMPRESSIONS:
            raise OpError(
                f"compression {compression!r} is not one of {COMPRESSIONS}", "compression"
            )
        if args is not None and not isinstance(args, list | dict):
            raise OpError("field args expects a list or an object", "args")
        self._executor.submit(self._run_call, service, mid, args, timeout, compression)

    def _run_call(
        self, service: str, mid: str | int | None, args: Any, timeout: float, compression: str
    ) -> None:
        reply: dict[str, Any] = {"op": "service_response", "service": service}
        if mid is not None:
            reply["id"] = mid
        try:
            if service in ROSAPI:
                values = call_rosapi(self._act, service, _as_dict(args))
            else:
                values = self._call_graph(service, args, timeout)  # encoded once, by send()
            reply.update(values=values, result=True)
        except RosWebError as err:
            reply.update(values=str(err), result=False)
            self.status("error", f"call_service {service}: {err}", mid)
        except Exception as err:
            log.exception("call_service %s failed", service)
            reply.update(values=f"internal error ({type(err).__name__})", result=False)
        if not self.closed:
            self.send(reply, "cbor" if compression != "none" else "none")

    def _call_graph(self, service: str, args: Any, timeout: float) -> Message:
        srv = self.graph.types.service(self.graph.service_type(service))
        self._act.see("service", service)
        if isinstance(args, list):  # positional: the request's fields in order
            names = [f.name for f in self.graph.types.fields(srv.request)]
            if len(args) > len(names):
                raise ValidationError(f"{len(args)} args for {len(names)} fields", "args")
            args = dict(zip(names, args, strict=False))
        request = from_json(self.graph.types, srv.request, args or {})
        return self._act.call(service, request, timeout=timeout)

    def _advertise_service(self, msg: dict[str, Any]) -> None:
        service = normalize_name(_required(msg, "service"))
        type_name = _required(msg, "type")
        if not self.graph.types.has_service(type_name):
            raise OpError(f"unknown service type {type_name!r}", "type")
        self._act.provide(service)
        with self._lock:
            if service in self._services:
                raise OpError(f"{service} is already advertised by this client", "service")

        raw_name = msg["service"]  # clients route calls by the exact name they advertised

        def handler(request: Message) -> Message:
            return self._ask_client(raw_name, request)

        handle = self.graph.provide_service(service, type_name, handler)
        with self._lock:
            self._services[service] = handle

    def _ask_client(self, service: str, request: Message) -> Message:
        """Forward a call of a service this client provides; wait for its service_response."""
        call_id = f"service_request:{service}:{next(self._ids)}"
        waiting = _Pending()
        with self._lock:
            if self.closed:
                raise ServiceError(f"the client providing {service} disconnected")
            self._pending[call_id] = waiting
        self.send({"op": "call_service", "id": call_id, "service": service, "args": request})
        try:
            if not waiting.done.wait(self.options.service_timeout):
                raise ServiceTimeout(f"the client providing {service} did not answer in time")
        finally:
            with self._lock:
                self._pending.pop(call_id, None)
        if not waiting.result:
            reason = waiting.values if waiting.values else "the client reported a failure"
            raise ServiceError(f"{service} failed in the client: {reason}")
        return waiting.values if isinstance(waiting.values, dict) else {}

    def _service_response(self, msg: dict[str, Any]) -> None:
        call_id = _required(msg, "id", (str, int))
        with self._lock:
            waiting = self._pending.get(call_id)
        if waiting is None:
            raise OpError(f"no call {call_id!r} is waiting for a response", "id")
        waiting.values = msg.get("values")
        waiting.result = bool(msg.get("result", True))
        waiting.done.set()

    def _unadvertise_service(self, msg: dict[str, Any]) -> None:
        service = normalize_name(_required(msg, "service"))
        with self._lock:
            handle = self._services.pop(service, None)
        if handle is None:
            raise OpError(f"{service} is not advertised by this client", "service")
        handle.close()

    # -- ops: rosweb's own ----------------------------------------------------------------------

    def _auth(self, msg: dict[str, Any]) -> None:
        """``{"op": "auth", "token": ...}``: authenticate a session opened without credentials."""
        if self.actor is not None:
            raise OpError("this session is already authenticated")
        if self._login is None:
            raise OpError("authentication is not available on this endpoint")
        token = _get(msg, "token", str)
        if token is None:
            reason = "rosauth's mac is not supported" if "mac" in msg else "missing field token"
            raise OpError(f'{reason}: send {{"op": "auth", "token": "..."}}', "token")
        self.actor = self._login(token)  # AuthError: reported as a status, the session stays
        principal = self.actor.principal
        self.send({"op": "auth", "result": True, "user": principal.user, "role": principal.role})

    def _control_op(self, msg: dict[str, Any]) -> None:
        """``{"op": "control", "action": "acquire" | "release" | "state", "force": false}``."""
        action = _get(msg, "action", str, "state")
        force = _get(msg, "force", bool, False)
        mid = _get(msg, "id", (str, int))
        actor = self._act
        if action == "acquire":
            state = actor.acquire(force)
        elif action == "release":
            actor.release(force)
            state = actor.state.control.state()
        elif action == "state":
            state = actor.state.control.state()
        else:
            raise OpError(f"action {action!r} is not one of acquire, release, state", "action")
        reply: dict[str, Any] = {"op": "control", "action": action, "state": state}
        if mid is not None:
            reply["id"] = mid
        self.send(reply)

    # -- ops: protocol --------------------------------------------------------------------------

    def _set_level(self, msg: dict[str, Any]) -> None:
        level = _required(msg, "level")
        if level not in LEVELS:
            raise OpError(f"level {level!r} is not one of {list(LEVELS)}", "level")
        self._status_level = LEVELS[level]

    def _fragment(self, msg: dict[str, Any]) -> None:
        fid = str(_required(msg, "id", (str, int)))
        data = _required(msg, "data")
        num = _required(msg, "num", int)
        total = _required(msg, "total", int)
        if not 0 <= num < total:
            raise OpError(f"fragment num {num} is outside 0..{total - 1}", "num")
        now = time.monotonic()
        with self._lock:
            for stale in [
                k
                for k, (t, _, _) in self._fragments.items()
                if now - t > self.options.fragment_timeout
            ]:
                del self._fragments[stale]
            _, expected, parts = self._fragments.setdefault(fid, (now, total, {}))
            if total != expected:
                del self._fragments[fid]
                raise OpError(f"fragment total {total} differs from {expected} of {fid}", "total")
            parts[num] = data
            if sum(len(p) for p in parts.values()) > self.options.max_message_size:
                del self._fragments[fid]
                raise OpError(f"fragmented message {fid} is larger than the limit", "data")
            if len(parts) < total:
                return
            del self._fragments[fid]
        self.receive("".join(parts[i] for i in range(total)))


def _as_dict(args: Any) -> dict[str, Any]:
    if isinstance(args, dict):
        return args
    if not args:
        return {}
    raise ValidationError("rosapi services take their arguments as an object", "args")


#: op -> handler
OPS: dict[str, Callable[[BridgeSession, dict[str, Any]], None]] = {
    "advertise": BridgeSession._advertise,
    "unadvertise": BridgeSession._unadvertise,
    "publish": BridgeSession._publish,
    "subscribe": BridgeSession._subscribe,
    "unsubscribe": BridgeSession._unsubscribe,
    "call_service": BridgeSession._call_service,
    "advertise_service": BridgeSession._advertise_service,
    "unadvertise_service": BridgeSession._unadvertise_service,
    "service_response": BridgeSession._service_response,
    "set_level": BridgeSession._set_level,
    "fragment": BridgeSession._fragment,
    "auth": BridgeSession._auth,
    "control": BridgeSession._control_op,
}

#: op -> least role (None: allowed before authentication)
OP_ROLES: dict[str, str | None] = {
    "advertise": "operator",
    "unadvertise": "operator",
    "publish": "operator",
    "subscribe": "viewer",
    "unsubscribe": "viewer",
    "call_service": "operator",  # viewer for rosapi's introspection
    "advertise_service": "operator",
    "unadvertise_service": "operator",
    "service_response": "operator",
    "set_level": "viewer",
    "fragment": "viewer",
    "auth": None,
    "control": "operator",
}

#: ops that write, counted against ROSWEB_WS_RATE_LIMIT
RATE_LIMITED_OPS = frozenset(
    {"advertise", "publish", "call_service", "advertise_service", "service_response", "control"}
)
