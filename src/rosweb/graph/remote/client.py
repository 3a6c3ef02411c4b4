"""Named objects served over ZeroMQ: the agent's generic RPC.

The server (:class:`RpcServer`, a ROUTER socket) serves objects by name, each with an allow-list
of methods: ``server.serve("graph", graph_service, {"publish", "topics", ...})``. A client
(:class:`RpcClient`, a DEALER socket) calls them: ``client.proxy("graph").topics()``. Calls from
any number of threads share one connection; each waits for its own reply, with a timeout.

Frames (after the ROUTER's peer identity), each body CBOR (:mod:`rosweb.graph.remote.codec`)::

    client -> server   ping  b""                                  heartbeat
                       req   {id, obj, method, args, kwargs}      a call
                       ret   {id, ok, value | error}              reply to a server's call
    server -> client   pong  {instance, known}                    heartbeat answer
                       rep   {id, ok, value | error}              reply to a call
                       call  {id, fn, args}                       the server calls a client export
                       data  key, payload                         a stream item (topic data)
                       batch items                                stream items, in order
                                                                  (wire.pack_batch)

Sessions: the client pings every ``HEARTBEAT`` s. The server answers with its instance id and
whether it knows the client. A client the server does not know (first contact, a restarted
server, a session it timed out) says ``hello`` (the built-in ``_rpc.hello``, which makes every
served object forget what it held for that client: ``peer_gone(peer)``), then runs its
``on_session`` callback (re-subscribe...) and only then is ready. A server that hears nothing from
a client for ``SESSION_TIMEOUT`` s forgets it (a crashed worker). A client that hears nothing for
``DEAD_AFTER`` s is down: pending calls raise BackendUnavailable at once, so do new ones, until
the server answers again. Sends never wait for a missing server (``ZMQ_IMMEDIATE``).

A call is made from its caller's thread on a socket of a small pool
(:mod:`rosweb.graph.remote.calls`: its identity is the client's plus a number; the server serves
it for the client's session and replies to that socket); the session's own calls, and a call
that finds no socket free, go through the client's I/O thread, which does all other socket
work: other threads queue frames and wake it through a socket pair. Calls run on a thread pool
on the server, so a slow one never holds the others up; the served method can ask
:func:`current_peer` who is calling.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import zmq

from rosweb.errors import BackendUnavailable, RosWebError
from rosweb.graph.remote.calls import DirectCalls
from rosweb.graph.remote.codec import dumps, error_from_wire, error_to_wire, loads
from rosweb.graph.remote.wire import (
    DEAD_AFTER,
    DEFAULT_TIMEOUT,
    HEARTBEAT,
    RECEIVE_ITEMS,
    Waker,
    check_address,
    unpack_batch,
)

__all__ = ["Proxy", "RpcClient"]

log = logging.getLogger(__name__)


class Proxy:
    """Calls the methods of an object the server serves: ``proxy.method(*args, **kwargs)``.

    Each call waits for its reply (``timeout`` keyword: seconds, default the client's) and
    raises the error the method raised there (a rosweb error), or BackendUnavailable.
    """

    def __init__(self, client: RpcClient, name: str, methods: Iterable[str] | None = None) -> None:
        self._client = client
        self._name = name
        self._methods = frozenset(methods) if methods is not None else None

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_") or (self._methods is not None and method not in self._methods):
            raise AttributeError(f"the agent does not serve {self._name}.{method}")

        def call(*args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
            return self._client.call(self._name, method, *args, timeout=timeout, **kwargs)

        call.__name__ = method
        return call

    def __repr__(self) -> str:
        return f"<Proxy {self._name} at {self._client.address}>"


class RpcClient:
    """One connection to an :class:`RpcServer`, shared by every thread of this process.

    - ``on_data(key, payload)``: stream items, called on the I/O thread (hand off quickly).
    - ``exports``: functions the server may call (``fn(*args)``), run on a small pool.
    - ``on_session()``: called (off the I/O thread) each time a new session starts, before the
      client is ready: restore what the server should hold for us (subscriptions...), with
      ``call(..., internal=True)``.
    """

    def __init__(
        self,
        address: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        on_data: Callable[[bytes, bytes], None] | None = None,
        on_session: Callable[[], None] | None = None,
        exports: dict[str, Callable[..., Any]] | None = None,
    ) -> None:
        self.address = check_address(address)
        self.timeout = timeout
        self.identity = uuid.uuid4().bytes
        self.instance: str | None = None  # the server's, once in session
        self.objects: dict[str, list[str]] = {}  # what it serves
        self.sessions = 0  # sessions started (1 + reconnections)
        self._on_data = on_data
        self._on_session = on_session
        self._exports = exports or {}
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.DEALER)
        self._sock.setsockopt(zmq.IDENTITY, self.identity)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.IMMEDIATE, 1)  # no queueing for a server that is not there
        self._sock.setsockopt(zmq.RECONNECT_IVL, 100)
        self._sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        self._sock.setsockopt(zmq.RCVHWM, 100000)
        self._sock.connect(self.address)
        self._out: collections.deque[tuple[list[bytes], int]] = collections.deque()
        self._waker = Waker()
        self._lock = threading.Lock()
        self._pending: dict[int, Future[Any]] = {}
        self._ids = itertools.count(1)
        self._ready = threading.Event()
        self._establishing = False
        self._last_heard = 0.0
        self._closed = threading.Event()
        self._direct = DirectCalls(self._ctx, self.address, self.identity)
        self._failures = 0  # times pending calls were failed at once (gone, restarted, closed)
        self._failure = ""  # and why, the last time
        self._pool = ThreadPoolExecutor(8, thread_name_prefix="rosweb-agent-client")
        self._thread = threading.Thread(target=self._run, name="rosweb-agent-client", daemon=True)
        self._thread.start()

    @property
    def ready(self) -> bool:
        """In session with the server (calls can go through)."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def proxy(self, name: str) -> Proxy:
        """A proxy of the object the server serves as ``name``."""
        return Proxy(self, name, self.objects.get(name))

    # -- calls ----------------------------------------------------------------------------------

    def call(
        self,
        obj: str,
        method: str,
        *args: Any,
        timeout: float | None = None,
        internal: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Call ``obj.method(*args, **kwargs)`` on the server and return its result."""
        if self._closed.is_set():
            raise BackendUnavailable(f"the connection to the agent at {self.address} is closed")
        if threading.current_thread() is self._thread:  # its reply could never be received
            raise BackendUnavailable(f"{obj}.{method}: no call to the agent from its I/O thread "
                                     "(a data callback)")  # fmt: skip
        if not internal and not self._ready.is_set():
            raise BackendUnavailable(f"the agent at {self.address} is unavailable")
        call_id = next(self._ids)
        body = dumps({"id": call_id, "obj": obj, "method": method, "args": args, "kwargs": kwargs})
        wait = self.timeout if timeout is None else timeout
        if not internal and obj != "_rpc":  # from this thread, on a socket of the pool
            why_not = functools.partial(self._why_not, self._failures)
            try:
                done, value = self._direct.call(call_id, body, wait, why_not)
            except TimeoutError:
                raise self._late(obj, method, wait) from None
            if done:
                return value
        future: Future[Any] = Future()
        with self._lock:
            self._pending[call_id] = future
        self._out.append(([b"req", body], call_id))
        self._waker.wake()
        try:
            return future.result(wait)
        except FutureTimeout:
            raise self._late(obj, method, wait) from None
        finally:
            with self._lock:
                self._pending.pop(call_id, None)

    def _late(self, obj: str, method: str, wait: float) -> BackendUnavailable:
        return BackendUnavailable(
            f"the agent at {self.address} did not answer {obj}.{method} within {wait} s"
        )

    def _why_not(self, failures: int) -> str | None:
        """Why a direct call started when :attr:`_failures` was ``failures`` must fail now."""
        if self._closed.is_set():
            return "the connection to the agent is closed"
        return self._failure if self._failures != failures else None

    def _fail_pending(self, reason: str) -> None:
        with self._lock:
            self._failure = reason
            self._failures += 1  # the direct calls waiting see it
            futures = list(self._pending.values())
        for future in futures:
            if not future.done():
                future.set_exception(BackendUnavailable(reason))

    # -- the I/O thread -------------------------------------------------------------------------

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._waker.fileno(), zmq.POLLIN)
        last_ping = 0.0
        while not self._closed.is_set():
            try:
                now = time.monotonic()
                if now - last_ping >= HEARTBEAT:
                    last_ping = now
                    self._ping(now)
                events = dict(poller.poll(int(HEARTBEAT * 1000)))
                if self._sock in events:
                    self._receive()
                if self._waker.fileno() in events:
                    self._waker.drain()
                self._flush()
            except zmq.ZMQError:
                if self._closed.is_set():
                    return
                log.exception("agent client I/O failed")
            except Exception:
                log.exception("agent client I/O failed")

    def _ping(self, now: float) -> None:
        if self._ready.is_set() and now - self._last_heard > DEAD_AFTER:
            log.warning("the agent at %s is gone", self.address)
            self._ready.clear()
            self.instance = None
            self._fail_pending(f"the agent at {self.address} is unavailable")
        with contextlib.suppress(zmq.Again):  # not connected
            self._sock.send_multipart([b"ping", b""], zmq.NOBLOCK)

    def _flush(self) -> None:
        while self._out:
            frames, call_id = self._out.popleft()
            try:
                self._sock.send_multipart(frames, zmq.NOBLOCK)
            except zmq.Again:
                with self._lock:
                    future = self._pending.get(call_id)
                if future is not None and not future.done():
                    future.set_exception(
                        BackendUnavailable(f"the agent at {self.address} is unavailable")
                    )

    def _receive(self) -> None:
        """Up to 1000 messages or RECEIVE_ITEMS stream items, then the loop's other work (pings,
        calls going out): a flood of topic data cannot hold the session up."""
        items = 0
        for _ in range(1000):
            if items >= RECEIVE_ITEMS:
                return
            try:
                frames = self._sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self._last_heard = time.monotonic()
            kind = frames[0]
            if kind == b"batch" and len(frames) == 2:
                items += self._deliver(frames[1])
            elif kind == b"data" and len(frames) == 3:
                items += 1
                self._deliver_one(frames[1], frames[2])
            elif kind == b"rep" and len(frames) == 2:
                self._replied(frames[1])
            elif kind == b"pong" and len(frames) == 2:
                self._ponged(loads(frames[1]))
            elif kind == b"call" and len(frames) == 2:
                self._pool.submit(self._run_export, frames[1])

    def _deliver(self, blob: bytes) -> int:
        """A batch of stream items (:func:`~rosweb.graph.remote.wire.unpack_batch`), in order;
        returns how many."""
        count = 0
        try:
            for key, payload in unpack_batch(blob):
                count += 1
                self._deliver_one(key, payload)
        except ValueError as err:
            log.error("agent client: a malformed stream batch: %s", err)
        return count

    def _deliver_one(self, key: bytes, payload: bytes) -> None:
        if self._on_data is None:
            return
        try:
            self._on_data(key, payload)
        except Exception:
            log.exception("agent client: a stream item could not be delivered")

    def _replied(self, body: bytes) -> None:
        reply = loads(body)
        with self._lock:
            future = self._pending.get(reply.get("id"))
        if future is None or future.done():
            return  # timed out meanwhile
        if reply.get("ok"):
            future.set_result(reply.get("value"))
        else:
            future.set_exception(error_from_wire(reply.get("error")))

    def _ponged(self, pong: dict[str, Any]) -> None:
        fresh = not pong.get("known") or pong.get("instance") != self.instance
        if fresh and not self._establishing:
            if self._ready.is_set():
                log.warning("the agent at %s restarted: starting a new session", self.address)
            if self.instance is not None and pong.get("instance") != self.instance:
                # a new agent never answers what was sent to the one that died: fail at once
                # (a kill and a restart quicker than DEAD_AFTER left them to their timeout)
                self._fail_pending(f"the agent at {self.address} restarted")
            self._ready.clear()
            self._establishing = True
            self._pool.submit(self._establish)

    def _establish(self) -> None:
        try:
            hello = self.call("_rpc", "hello", internal=True, timeout=5.0)
            self.instance = hello["instance"]
            self.objects = hello["objects"]
            if self._on_session is not None:
                self._on_session()
            self.sessions += 1
            self._ready.set()
            log.info("in session with the agent at %s", self.address)
        except RosWebError as err:
            log.warning("cannot start a session with the agent at %s: %s", self.address, err)
        except Exception:
            log.exception("cannot start a session with the agent at %s", self.address)
        finally:
            self._establishing = False

    def _run_export(self, body: bytes) -> None:
        call_id = None
        try:
            request = loads(body)
            call_id = request["id"]
            fn = self._exports[request["fn"]]
            reply = {"id": call_id, "ok": True, "value": fn(*request.get("args", []))}
        except Exception as err:
            reply = {"id": call_id, "ok": False, "error": error_to_wire(err)}
        try:
            data = dumps(reply)
        except Exception as err:
            data = dumps({"id": call_id, "ok": False, "error": error_to_wire(err)})
        self._out.append(([b"ret", data], 0))
        self._waker.wake()

    def close(self) -> None:
        """Say goodbye (the server drops our state at once) and close; idempotent."""
        if self._closed.is_set():
            return
        if self._ready.is_set():
            with contextlib.suppress(RosWebError):
                self.call("_rpc", "bye", timeout=1.0)
        self._closed.set()
        self._ready.clear()
        self._waker.wake()
        clean = self._direct.close()  # a direct call in progress sees the close and gives up
        self._thread.join(timeout=5)
        self._fail_pending("the connection to the agent is closed")
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._sock.close()
        if clean:
            self._ctx.term()
        else:  # a call thread still holds its socket: close it from here, as a last resort
            self._ctx.destroy(linger=0)
        self._waker.close()
