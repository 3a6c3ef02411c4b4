"""Named objects served over ZeroMQ: the agent's generic RPC.

The server (:class:`RpcServer`, a ROUTER socket) serves objects by name, each with an allow-list
of methods: ``server.serve("graph", graph_service, {"publish", "topics", ...})``. A client
(:class:`RpcClient`, a DEALER socket) calls them: ``client.proxy("graph").topics()``. Calls from
any number of threads share one connection; each waits for its own reply, with a timeout.

Frames (after the ROUTER's peer identity), each body CBOR (:mod:`rosweb.agent.codec`)::

    client -> server   ping  b""                                  heartbeat
                       req   {id, obj, method, args, kwargs}      a call
                       ret   {id, ok, value | error}              reply to a server's call
    server -> client   pong  {instance, known}                    heartbeat answer
                       rep   {id, ok, value | error}              reply to a call
                       call  {id, fn, args}                       the server calls a client export
                       data  key, payload                         a stream item (topic data)

Sessions: the client pings every ``HEARTBEAT`` s. The server answers with its instance id and
whether it knows the client. A client the server does not know (first contact, a restarted
server, a session it timed out) says ``hello`` (the built-in ``_rpc.hello``, which makes every
served object forget what it held for that client: ``peer_gone(peer)``), then runs its
``on_session`` callback (re-subscribe...) and only then is ready. A server that hears nothing from
a client for ``SESSION_TIMEOUT`` s forgets it (a crashed worker). A client that hears nothing for
``DEAD_AFTER`` s is down: pending calls raise BackendUnavailable at once, so do new ones, until
the server answers again. Sends never wait for a missing server (``ZMQ_IMMEDIATE``).

All socket work happens on one I/O thread per side; other threads queue frames and wake it
through a socket pair. Calls run on a thread pool on the server, so a slow one never holds the
others up; the served method can ask :func:`current_peer` who is calling.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import itertools
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import zmq

from rosweb.agent.codec import dumps, error_from_wire, error_to_wire, loads
from rosweb.errors import BackendUnavailable, ConfigError, GraphError, RosWebError

__all__ = ["Proxy", "RpcClient", "RpcServer", "current_peer"]

log = logging.getLogger(__name__)

HEARTBEAT = 0.25  # seconds between a client's pings
DATA_QUEUE = 10000  # stream frames the server holds for its sockets; past that, oldest dropped
FLUSH_BATCH = 2000  # stream frames sent per turn of the server's loop
DEAD_AFTER = 1.5  # seconds of silence after which a client holds the server for gone
SESSION_TIMEOUT = 3.0  # seconds of silence after which the server forgets a client
DEFAULT_TIMEOUT = 10.0  # seconds a call waits for its reply unless told

_peer: contextvars.ContextVar[bytes] = contextvars.ContextVar("rosweb_rpc_peer")


def current_peer() -> bytes:
    """The identity of the client whose call the current thread runs (inside a served method)."""
    return _peer.get()


class _Waker:
    """Wakes an I/O thread polling its sockets: any thread may call :meth:`wake`."""

    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self._w.setblocking(False)

    def fileno(self) -> int:
        return self._r.fileno()

    def wake(self) -> None:
        # full: the thread is awake anyway; closed: it is gone
        with contextlib.suppress(BlockingIOError, OSError):
            self._w.send(b"\0")

    def drain(self) -> None:
        try:
            while self._r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def close(self) -> None:
        self._r.close()
        self._w.close()


def check_address(address: str, *, bind: bool = False) -> str:
    """A ZeroMQ address the agent may use: ``ipc://PATH`` or ``tcp://HOST:PORT`` (loopback to
    listen on: the agent has no authentication)."""
    if address.startswith("ipc://") and len(address) > len("ipc://"):
        return address
    if address.startswith("tcp://"):
        host, sep, port = address[len("tcp://") :].rpartition(":")
        if sep and host and port.isdigit():
            if bind and host.strip("[]") not in ("127.0.0.1", "localhost", "::1"):
                raise ConfigError(
                    f"the agent listens on loopback or ipc:// only (it has no authentication), "
                    f"not {address}"
                )
            return address
    raise ConfigError(f"bad agent address {address!r}: expected ipc://PATH or tcp://HOST:PORT")


class RpcServer:
    """Serves named objects on ``address`` (``ipc://PATH`` or ``tcp://127.0.0.1:PORT``)."""

    def __init__(self, address: str, *, threads: int = 32) -> None:
        self.address = check_address(address, bind=True)
        self.instance = uuid.uuid4().hex
        self._objects: dict[str, tuple[Any, frozenset[str]]] = {}
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.ROUTER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.ROUTER_HANDOVER, 1)  # a client that reconnects takes over
        self._sock.setsockopt(zmq.SNDHWM, 10000)  # past that, frames to a slow client are dropped
        try:
            self._sock.bind(self.address)
        except zmq.ZMQError as err:
            self._sock.close()
            self._ctx.term()
            raise ConfigError(f"the agent cannot listen on {self.address}: {err}") from err
        if self.address.startswith("ipc://"):
            os.chmod(self.address[len("ipc://") :], 0o600)  # this user's processes only
        # replies, pongs and calls go first, never behind the stream
        self._out: collections.deque[list[bytes]] = collections.deque()
        self._data: collections.deque[list[bytes]] = collections.deque(maxlen=DATA_QUEUE)
        #: stream frames dropped (the queue was full: workers did not keep up)
        self.data_dropped = 0
        self._waker = _Waker()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="rosweb-agent-call")
        self._lock = threading.Lock()
        self._peers: dict[bytes, float] = {}  # known clients -> when last heard
        self._calls: dict[int, tuple[bytes, Future[Any]]] = {}  # our calls to clients
        self._ids = itertools.count(1)
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what is served -------------------------------------------------------------------------

    def serve(self, name: str, obj: Any, methods: Iterable[str]) -> None:
        """Serve ``obj`` as ``name``: clients may call exactly ``methods`` on it.

        If ``obj`` has ``peer_gone(peer: bytes)``, it is called when a client goes away or
        starts a new session, to drop what the object held for it.
        """
        allowed = frozenset(methods)
        bad = [m for m in allowed if m.startswith("_") or not callable(getattr(obj, m, None))]
        if bad or name.startswith("_"):
            raise ValueError(f"cannot serve {name}: not public methods: {sorted(bad)}")
        self._objects[name] = (obj, allowed)

    def objects(self) -> dict[str, list[str]]:
        return {name: sorted(methods) for name, (_, methods) in self._objects.items()}

    def peers(self) -> list[bytes]:
        with self._lock:
            return list(self._peers)

    # -- sending from any thread ----------------------------------------------------------------

    def _send(self, frames: list[bytes]) -> None:
        self._out.append(frames)
        self._waker.wake()

    def send_data(self, peers: Sequence[bytes], key: bytes, payload: bytes) -> None:
        """A stream item to each of ``peers`` (never blocks; a slow peer loses items)."""
        if not peers:
            return
        overflow = len(self._data) + len(peers) - DATA_QUEUE
        if overflow > 0:
            self.data_dropped += overflow
        self._data.extend([peer, b"data", key, payload] for peer in peers)
        self._waker.wake()

    def call_peer(self, peer: bytes, fn: str, args: list[Any], timeout: float) -> Any:
        """Call the client's export ``fn(*args)`` and wait for its result (blocks this thread)."""
        call_id = next(self._ids)
        future: Future[Any] = Future()
        with self._lock:
            if peer not in self._peers:
                raise BackendUnavailable("the worker that provided this is gone")
            self._calls[call_id] = (peer, future)
        self._send([peer, b"call", dumps({"id": call_id, "fn": fn, "args": args})])
        try:
            return future.result(timeout)
        except FutureTimeout:
            raise GraphError(f"the worker did not answer {fn} within {timeout} s") from None
        finally:
            with self._lock:
                self._calls.pop(call_id, None)

    # -- the I/O thread -------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rosweb-agent-io", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._waker.fileno(), zmq.POLLIN)
        last_sweep = time.monotonic()
        while not self._closed.is_set():
            try:
                busy = bool(self._out or self._data)
                events = dict(poller.poll(0 if busy else int(HEARTBEAT * 1000)))
                if self._sock in events:
                    self._receive()
                if self._waker.fileno() in events:
                    self._waker.drain()
                self._flush()
                if time.monotonic() - last_sweep > HEARTBEAT:
                    last_sweep = time.monotonic()
                    self._sweep()
            except zmq.ZMQError as err:
                if self._closed.is_set():
                    return
                log.exception("agent I/O failed: %s", err)
            except Exception:
                log.exception("agent I/O failed")

    def _flush(self) -> None:
        """Every control frame, then up to FLUSH_BATCH stream frames (then poll again)."""
        while self._out:
            self._send_now(self._out.popleft())
        for _ in range(FLUSH_BATCH):
            if not self._data:
                return
            self._send_now(self._data.popleft())
            if self._out:
                return

    def _send_now(self, frames: list[bytes]) -> None:
        # zmq.Again: that client's queue is full: drop, as a PUB socket would
        with contextlib.suppress(zmq.Again):
            self._sock.send_multipart(frames, zmq.NOBLOCK, copy=len(frames[-1]) < 65536)

    def _receive(self) -> None:
        for _ in range(1000):  # then let the outgoing side have a turn
            try:
                frames = self._sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) < 3:
                continue
            peer, kind, body = frames[0], frames[1], frames[2]
            known = self._touch(peer)
            if kind == b"ping":
                self._out.append(
                    [peer, b"pong", dumps({"instance": self.instance, "known": known})]
                )
            elif kind == b"req":
                self._pool.submit(self._handle, peer, body)
            elif kind == b"ret":
                self._returned(body)

    def _touch(self, peer: bytes) -> bool:
        with self._lock:
            if peer in self._peers:
                self._peers[peer] = time.monotonic()
                return True
            return False

    def _returned(self, body: bytes) -> None:
        try:
            reply = loads(body)
            with self._lock:
                _, future = self._calls[reply["id"]]
        except Exception:
            return  # a late or malformed reply
        if reply.get("ok"):
            future.set_result(reply.get("value"))
        else:
            future.set_exception(error_from_wire(reply.get("error")))

    def _handle(self, peer: bytes, body: bytes) -> None:
        call_id = None
        try:
            request = loads(body)
            call_id = request["id"]
            value = self._dispatch(peer, request)
            reply = {"id": call_id, "ok": True, "value": value}
        except Exception as err:
            if not isinstance(err, RosWebError):
                log.exception("agent: call failed")
            reply = {"id": call_id, "ok": False, "error": error_to_wire(err)}
        try:
            data = dumps(reply)
        except Exception as err:  # a served method returned what CBOR cannot carry
            data = dumps({"id": call_id, "ok": False, "error": error_to_wire(err)})
        self._send([peer, b"rep", data])

    def _dispatch(self, peer: bytes, request: dict[str, Any]) -> Any:
        name, method = request["obj"], request["method"]
        args, kwargs = request.get("args") or [], request.get("kwargs") or {}
        if name == "_rpc":
            return self._builtin(peer, method)
        with self._lock:
            known = peer in self._peers
        if not known:  # a client of an agent that restarted: it must say hello again first
            raise BackendUnavailable("the agent has no session with this worker (restarted?)")
        served = self._objects.get(name)
        if served is None:
            raise GraphError(f"the agent serves no object {name!r}")
        obj, allowed = served
        if method not in allowed:
            raise GraphError(f"the agent does not serve {name}.{method}")
        token = _peer.set(peer)
        try:
            return getattr(obj, method)(*args, **kwargs)
        finally:
            _peer.reset(token)

    def _builtin(self, peer: bytes, method: str) -> Any:
        if method == "hello":
            self._forget(peer)
            with self._lock:
                self._peers[peer] = time.monotonic()
            return {"instance": self.instance, "objects": self.objects()}
        if method == "bye":
            self._forget(peer)
            return None
        raise GraphError(f"unknown built-in call {method!r}")

    def _forget(self, peer: bytes) -> None:
        """Drop a client: fail our calls to it, let every served object drop its state."""
        with self._lock:
            self._peers.pop(peer, None)
            failed = [f for p, f in self._calls.values() if p == peer]
        for future in failed:
            future.set_exception(BackendUnavailable("the worker went away"))
        for name, (obj, _) in self._objects.items():
            gone = getattr(obj, "peer_gone", None)
            if gone is None:
                continue
            try:
                gone(peer)
            except Exception:
                log.exception("agent: %s could not drop a worker's state", name)

    def _sweep(self) -> None:
        now = time.monotonic()
        with self._lock:
            silent = [p for p, seen in self._peers.items() if now - seen > SESSION_TIMEOUT]
        for peer in silent:
            log.warning("agent: worker %s is silent: dropping its state", peer.hex()[:8])
            self._pool.submit(self._forget, peer)

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._waker.wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._sock.close()
        self._ctx.term()
        self._waker.close()
        if self.address.startswith("ipc://"):
            with contextlib.suppress(OSError):
                os.unlink(self.address[len("ipc://") :])


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
        self._waker = _Waker()
        self._lock = threading.Lock()
        self._pending: dict[int, Future[Any]] = {}
        self._ids = itertools.count(1)
        self._ready = threading.Event()
        self._establishing = False
        self._last_heard = 0.0
        self._closed = threading.Event()
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
        if not internal and not self._ready.is_set():
            raise BackendUnavailable(f"the agent at {self.address} is unavailable")
        call_id = next(self._ids)
        future: Future[Any] = Future()
        body = dumps({"id": call_id, "obj": obj, "method": method, "args": args, "kwargs": kwargs})
        with self._lock:
            self._pending[call_id] = future
        self._out.append(([b"req", body], call_id))
        self._waker.wake()
        wait = self.timeout if timeout is None else timeout
        try:
            return future.result(wait)
        except FutureTimeout:
            raise BackendUnavailable(
                f"the agent at {self.address} did not answer {obj}.{method} within {wait} s"
            ) from None
        finally:
            with self._lock:
                self._pending.pop(call_id, None)

    def _fail_pending(self, reason: str) -> None:
        with self._lock:
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
        for _ in range(1000):
            try:
                frames = self._sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self._last_heard = time.monotonic()
            kind = frames[0]
            if kind == b"data" and len(frames) == 3:
                if self._on_data is not None:
                    try:
                        self._on_data(frames[1], frames[2])
                    except Exception:
                        log.exception("agent client: a stream item could not be delivered")
            elif kind == b"rep" and len(frames) == 2:
                self._replied(frames[1])
            elif kind == b"pong" and len(frames) == 2:
                self._ponged(loads(frames[1]))
            elif kind == b"call" and len(frames) == 2:
                self._pool.submit(self._run_export, frames[1])

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
        self._thread.join(timeout=5)
        self._fail_pending("the connection to the agent is closed")
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._sock.close()
        self._ctx.term()
        self._waker.close()
