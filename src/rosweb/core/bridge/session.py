"""The rosbridge v2 protocol, message in, messages out: no socket anywhere in here.

A :class:`BridgeSession` is one client. The transport calls :meth:`~BridgeSession.receive` with
each incoming frame and, whenever the session's ``wake`` callback fires, takes the frames to send
with :meth:`~BridgeSession.outgoing`. Each subscription has its own bounded drop-oldest queue, and
``outgoing`` takes one message per subscription in turn, so a slow client loses its own old
messages and one big topic cannot starve the others.

Ops are handled by one function each, registered in :data:`OPS`, grouped by what they touch
(:mod:`~rosweb.core.bridge.topics`, :mod:`~rosweb.core.bridge.services`, and the protocol's own
below); a bad op gets a ``status`` message naming the op, the field and the offending ``id``.

Every op acts as the session's :class:`~rosweb.core.guard.GuardedRobot` (who the client is):
each op needs a role (:data:`OP_ROLES`), names are checked against the allow/deny lists, motion
goes through the robot's control (e-stop, lease, limits, deadman), writes and fragments are rate
limited. A client that connected without credentials may only send
``{"op": "auth", "token": ...}`` until it has. Two ops are rosweb's own: ``auth``, and ``control``
(``action``: ``acquire``, ``release`` or ``state``; ``force`` for admins) for the control lease.

Some ops block (a backend call, a service): a transport runs :meth:`~BridgeSession.receive` off
its event loop, one frame at a time per session (:mod:`rosweb.server.offload`).
"""

from __future__ import annotations

import collections
import itertools
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from rosweb.core.bridge.base import Pending, Subscription
from rosweb.core.bridge.fields import LEVELS, BridgeOptions, OpError, field, required
from rosweb.core.bridge.fragments import Fragments
from rosweb.core.bridge.frames import Frame, FrameError, decode, encode, fragments, guess_id
from rosweb.core.bridge.rosapi import ROSAPI
from rosweb.core.bridge.services import ServiceOps
from rosweb.core.bridge.topics import TopicOps, publish_frame
from rosweb.core.guard import GuardedRobot
from rosweb.errors import AuthError, BackendUnavailable, RateLimited, RosWebError
from rosweb.graph import Handle
from rosweb.hub import Consumer, Envelope

__all__ = ["OPS", "OP_ROLES", "RATE_LIMITED_OPS", "BridgeOptions", "BridgeSession"]

log = logging.getLogger(__name__)


def _nothing() -> None:
    pass


#: the op of a JSON frame that starts with it, as clients write them (roslibjs, roslibpy)
_OP = re.compile(r'\s*\{\s*"op"\s*:\s*"([a-z_]+)"')


class BridgeSession(TopicOps, ServiceOps):
    """One rosbridge client: feed it frames, take frames from it."""

    def __init__(
        self,
        robot: GuardedRobot | None,
        *,
        wake: Callable[[], None],
        executor: Executor,
        login: Callable[[str], GuardedRobot] | None = None,
        rate_limit: Callable[[str], bool | str | None] | None = None,
        rate_exhausted: Callable[[], str | None] | None = None,
        rate_wait: Callable[[], float] | None = None,
        options: BridgeOptions | None = None,
        framing: Callable[[Frame], bytes] | None = None,
    ) -> None:
        #: the robot as this client may use it; None until it authenticates (with ``login``,
        #: by an auth op)
        self.robot = robot
        self._login = login
        self._rate_limit = rate_limit
        #: why the rate limit refuses writes right now (None: it does not), without counting one
        self._rate_exhausted = rate_exhausted
        #: seconds until the rate limit takes writes again (0.0: it does), without counting one
        self._rate_wait = rate_wait
        self.options = options or BridgeOptions()
        self._wake = wake
        #: the transport's wire form of a frame (a WebSocket frame): with it, ``outgoing``
        #: hands out wire bytes, a topic message's made once for every session
        self._framing = framing
        self._executor = executor
        self._lock = threading.RLock()
        self._control: collections.deque[Frame] = collections.deque()
        self._subscriptions: dict[str, Subscription] = {}
        self._turn: collections.deque[str] = collections.deque()  # round-robin over topics
        self._publishers: dict[str, Handle] = {}
        self._services: dict[str, Handle] = {}
        self._pending: dict[str, Pending] = {}
        self._fragments = Fragments(self.options)
        self._latched: set[str] = set()  # topics this client advertised with latch
        self._ids = itertools.count(1)
        self._status_level = LEVELS["error"]
        self._refused = 0  # rate-limited ops not reported since the last status
        self._refused_since = -1.0
        self._held = 0  # frames held back by the rate limit since the last status
        self._held_since = -1.0
        # writes counted by admit() (the transport's thread) and taken by handle() (its own)
        self._prepaid = 0
        self._spent = 0
        self.closed = False

    # -- in -------------------------------------------------------------------------------------

    def receive(self, data: Frame) -> None:
        """Handle one incoming frame; replies and errors become outgoing frames."""
        try:
            message = decode(data)
        except FrameError as err:
            self.status("error", str(err), guess_id(data))
            return
        self.handle(message)

    def refuse_early(self, data: Frame) -> bool:
        """True if ``data`` is a rate-limited op (read from the start of its JSON text) while the
        rate limit refuses every write: it is refused here, as :meth:`receive` would, but
        before it is decoded or queued, so that a flood costs next to nothing. Otherwise False:
        the frame goes to :meth:`receive` as usual. Safe to call from the transport's loop."""
        exhausted = self._rate_exhausted
        if exhausted is None or self.robot is None or not isinstance(data, str):
            return False
        found = _OP.match(data)
        if found is None or found.group(1) not in RATE_LIMITED_OPS:
            return False
        reason = exhausted()
        if reason is None:
            return False
        if time.monotonic() - self._refused_since < 1.0:
            self._refused += 1  # folded into the next status (the common case: no work at all)
        else:
            self._refuse(found.group(1), reason, guess_id(data))
        return True

    def admit(self, data: Frame) -> float | None:
        """For a transport that can stop reading, before it hands ``data`` to :meth:`receive`:
        0.0 to hand it over now, None when it is refused here, else the seconds to wait before
        asking again. A rate-limited op (read from the start of its JSON text) is counted here,
        so that frames still queued for a blocking backend count at once; while the limit takes
        no more writes, the client is held back (at most :data:`MAX_HOLD` at a time): its
        frames wait in TCP's buffers, nothing is lost, a flood costs no work at all, and the
        client gets one warning status a second. A longer wait (a limit counted in minutes) is
        a refusal, as :meth:`refuse_early`'s. Safe to call from the transport's loop."""
        wait_for, limit = self._rate_wait, self._rate_limit
        if wait_for is None or limit is None or self.robot is None or not isinstance(data, str):
            return 0.0
        found = _OP.match(data)
        if found is None or found.group(1) not in RATE_LIMITED_OPS:
            return 0.0
        op = found.group(1)
        if wait_for() <= 0.0 and limit(op) is True:
            self._prepaid += 1  # counted: handle() does not count it again
            return 0.0
        delay = wait_for()
        reason = self._rate_exhausted() if self._rate_exhausted is not None else None
        reason = reason or "too many requests"
        if delay > MAX_HOLD:
            self._refuse(op, reason, guess_id(data))
            return None
        now = time.monotonic()
        self._held += 1
        if now - self._held_since >= 1.0:
            self.status(
                "warning", f"{op}: {reason}: slowed down, this connection is read no faster "
                f"({self._held} frames waited)",
            )  # fmt: skip
            self._held_since, self._held = now, 0
        return max(delay, 1e-3)

    def handle(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        raw_id = message.get("id")
        mid = raw_id if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else None
        handler = OPS.get(op) if isinstance(op, str) else None
        if handler is None:
            self.status("error", f"unknown op {op!r}" if op else "missing field op", mid)
            return
        try:
            refused = self._allow(str(op), message)
            if refused is not None:
                self._refuse(str(op), refused, mid)
                return
            handler(self, message)
        except OpError as err:
            self.status("error", f"{op}: {err}", mid)
        except RateLimited as err:
            self._refuse(str(op), str(err), mid)
        except RosWebError as err:
            self.status("error", f"{op}: {err}", mid)
        except Exception as err:  # a bug of ours: the client still gets an answer
            log.exception("rosbridge op %s failed", op)
            self.status("error", f"{op}: internal error ({type(err).__name__})", mid)

    def _refuse(self, op: str, reason: str, mid: str | int | None) -> None:
        """A rate-limited op: refusing costs almost nothing, one status a second."""
        now = time.monotonic()
        if now - self._refused_since < 1.0:
            self._refused += 1
            return
        more = f" ({self._refused} more refused in the last second)" if self._refused else ""
        self._refused_since, self._refused = now, 0
        self.status("error", f"{op}: {reason}{more}", mid)

    def _allow(self, op: str, message: dict[str, Any]) -> str | None:
        """Raise unless the client may send this op (authenticated, role); the reason if it
        may not now (``rate_limit`` said no: a string, or RateLimited raised)."""
        role = OP_ROLES[op]
        if role is None:
            return None
        if self.robot is None:
            raise AuthError('not authenticated: send {"op": "auth", "token": "..."} first')
        service = message.get("service")
        if op == "call_service" and isinstance(service, str) and service in ROSAPI:
            role = "viewer"  # introspection; rosapi's own writes check their role
        self.robot.require(role, f"op {op}")
        if op in RATE_LIMITED_OPS and self._rate_limit is not None:
            if self._spent < self._prepaid:  # counted by admit()
                self._spent += 1
                return None
            verdict = self._rate_limit(op)
            if isinstance(verdict, str):
                return verdict
        return None

    # -- out ------------------------------------------------------------------------------------

    def send(self, message: dict[str, Any], compression: str = "none") -> None:
        """Queue a control message (status, service response, request to the client)."""
        frame = encode(message, compression)
        if self._framing is not None:
            frame = self._framing(frame)
        with self._lock:
            self._control.append(frame)
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

    def _frames_of(self, subscription: Subscription, envelope: Envelope) -> list[Frame]:
        """A message's frames for this client: made once per message for every session (the
        wire form too, with ``framing``), but fragments (their ids are this session's)."""
        key = ("publish", subscription.name, subscription.compression)
        frame = envelope.encoded(
            key, publish_frame(self._act().types, subscription.name, subscription.compression)
        )
        size = subscription.fragment_size
        framing = self._framing
        if size and isinstance(frame, str) and len(frame) > size:
            fragment_id = f"publish:{envelope.topic}:{next(self._ids)}"
            parts: list[Frame] = list(fragments(frame, size, fragment_id))
            return [framing(p) for p in parts] if framing is not None else parts
        if framing is None:
            return [frame]
        return [envelope.encoded((*key, "wire"), lambda e: framing(frame))]

    def _notify(self, consumer: Consumer) -> None:
        """On the middleware's thread, a message queued for this client: its frames are made
        here, once for every session, so that the transport's loop only writes bytes."""
        subscription = self._subscriptions.get(consumer.topic)
        if subscription is not None and not subscription.fragment_size and self.robot:
            envelope = consumer.newest()
            if envelope is not None:
                try:
                    self._frames_of(subscription, envelope)
                except Exception:  # the loop makes it again, and reports it there
                    log.debug("could not encode a message of %s early", consumer.topic)
        self._wake()

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
            self._fragments.clear()
        for subscription in subscriptions:
            subscription.consumer.close()
        for handle in handles:
            handle.close()
        for waiting in pending:
            waiting.values = "the client providing the service disconnected"
            waiting.done.set()
        if self.robot is not None:  # the deadman: a driver's connection went away
            try:
                self.robot.disconnected()
            except BackendUnavailable as error:  # an agent that restarted stops the robot itself
                log.warning("could not tell the robot side a client disconnected: %s", error)
            except Exception:
                log.exception("could not stop the robot for a disconnected client")
        # nothing of the session outlives it: no reference cycle through the transport's
        # callbacks keeps its buffers alive until a garbage collection
        self._login = None
        self._rate_limit = None
        self._rate_exhausted = None
        self._rate_wait = None
        self._wake = _nothing

    # -- ops: rosweb's own ----------------------------------------------------------------------

    def _auth(self, msg: dict[str, Any]) -> None:
        """``{"op": "auth", "token": ...}``: authenticate a session opened without credentials."""
        if self.robot is not None:
            raise OpError("this session is already authenticated")
        if self._login is None:
            raise OpError("authentication is not available on this endpoint")
        token = field(msg, "token", str)
        if token is None:
            reason = "rosauth's mac is not supported" if "mac" in msg else "missing field token"
            raise OpError(f'{reason}: send {{"op": "auth", "token": "..."}}', "token")
        self.robot = self._login(token)  # AuthError: reported as a status, the session stays
        caller = self.robot.caller
        self.send({"op": "auth", "result": True, "user": caller.user, "role": caller.role})

    def _control_op(self, msg: dict[str, Any]) -> None:
        """``{"op": "control", "action": "acquire" | "release" | "state", "force": false}``."""
        action = field(msg, "action", str, "state")
        force = field(msg, "force", bool, False)
        mid = field(msg, "id", (str, int))
        robot = self._act()
        if action == "acquire":
            state = robot.acquire(force)
        elif action == "release":
            robot.release(force)
            state = robot.control_state()
        elif action == "state":
            state = robot.control_state()
        else:
            raise OpError(f"action {action!r} is not one of acquire, release, state", "action")
        reply: dict[str, Any] = {"op": "control", "action": action, "state": state}
        if mid is not None:
            reply["id"] = mid
        self.send(reply)

    # -- ops: protocol --------------------------------------------------------------------------

    def _set_level(self, msg: dict[str, Any]) -> None:
        level = required(msg, "level")
        if level not in LEVELS:
            raise OpError(f"level {level!r} is not one of {list(LEVELS)}", "level")
        self._status_level = LEVELS[level]

    def _fragment(self, msg: dict[str, Any]) -> None:
        fid = str(required(msg, "id", (str, int)))
        data = required(msg, "data")
        num = required(msg, "num", int)
        total = required(msg, "total", int)
        whole = self._fragments.add(fid, num, total, data)
        if whole is not None:
            self.receive(whole)


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

#: the longest a frame is held back by the rate limit (:meth:`BridgeSession.hold`); a frame that
#: would wait longer is refused
MAX_HOLD = 1.0

#: ops that write (and fragments, which hold memory), counted against ROSWEB_WS_RATE_LIMIT
RATE_LIMITED_OPS = frozenset(
    {"advertise", "publish", "call_service", "advertise_service", "service_response", "control",
     "fragment"}
)  # fmt: skip
