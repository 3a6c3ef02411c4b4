"""The agent's side of the RPC: :class:`RpcServer` serves named objects over ZeroMQ (a ROUTER
socket), each with an allow-list of methods. The frames and sessions are described in
:mod:`rosweb.graph.remote.client`, the other end.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import itertools
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import zmq

from rosweb.errors import BackendUnavailable, ConfigError, GraphError, RosWebError
from rosweb.graph.remote.codec import dumps, error_from_wire, error_to_wire, loads
from rosweb.graph.remote.wire import (
    DATA_BATCH,
    DATA_BATCH_BYTES,
    DATA_QUEUE,
    FLUSH_BATCH,
    HEARTBEAT,
    IDENTITY_SIZE,
    SEND_HWM,
    SESSION_TIMEOUT,
    Waker,
    check_address,
    pack_batch,
)

__all__ = ["RpcServer", "current_peer"]

log = logging.getLogger(__name__)

#: a stream item this big (a camera image) goes to ZeroMQ without a copy; a batch and a smaller
#: item are copied, which costs less than the zero-copy send's tracking (pyzmq releases those
#: buffers on its own garbage-collector thread: 5 % of the agent's CPU under a flood of batches)
ZERO_COPY = 1 << 16

_peer: contextvars.ContextVar[bytes] = contextvars.ContextVar("rosweb_rpc_peer")


def current_peer() -> bytes:
    """The identity of the client whose call the current thread runs (inside a served method)."""
    return _peer.get()


class RpcServer:
    """Serves named objects on ``address`` (``ipc://PATH`` or ``tcp://127.0.0.1:PORT``)."""

    def __init__(self, address: str, *, threads: int = 32) -> None:
        self.address = check_address(address, bind=True)
        self.instance = uuid.uuid4().hex
        self._objects: dict[str, tuple[Any, frozenset[str]]] = {}
        self._inline: set[tuple[str, str]] = set()  # (object, method) run on the I/O thread
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.ROUTER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.ROUTER_HANDOVER, 1)  # a client that reconnects takes over
        # past that, batches to a slow client are dropped: DATA_BATCH items or DATA_BATCH_BYTES
        self._sock.setsockopt(zmq.SNDHWM, SEND_HWM)
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
        self._data: collections.deque[tuple[bytes, bytes, bytes]] = collections.deque(
            maxlen=DATA_QUEUE
        )  # (peer, key, payload)
        #: stream items dropped (the queue was full: workers did not keep up)
        self.data_dropped = 0
        self._waker = Waker()
        self._sleeping = False  # the I/O thread waits in poll: queue, then wake it
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="rosweb-agent-call")
        self._lock = threading.Lock()
        self._peers: dict[bytes, float] = {}  # known clients -> when last heard
        self._calls: dict[int, tuple[bytes, Future[Any]]] = {}  # our calls to clients
        self._ids = itertools.count(1)
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what is served -------------------------------------------------------------------------

    def serve(
        self, name: str, obj: Any, methods: Iterable[str], inline: Iterable[str] = ()
    ) -> None:
        """Serve ``obj`` as ``name``: clients may call exactly ``methods`` on it.

        ``inline``: methods that return at once and never block (an in-process lookup): they
        run on the I/O thread as their request arrives, without the two thread hand-offs of
        the pool; everything else runs on the pool. If ``obj`` has ``peer_gone(peer:
        bytes)``, it is called when a client goes away or starts a new session, to drop what
        the object held for it.
        """
        allowed = frozenset(methods)
        bad = [m for m in allowed if m.startswith("_") or not callable(getattr(obj, m, None))]
        if bad or name.startswith("_"):
            raise ValueError(f"cannot serve {name}: not public methods: {sorted(bad)}")
        if not set(inline) <= allowed:
            raise ValueError(f"cannot serve {name}: inline methods not served: {set(inline)}")
        self._objects[name] = (obj, allowed)
        self._inline |= {(name, m) for m in inline}

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
        self._data.extend((peer, key, payload) for peer in peers)
        if self._sleeping:  # awake, it sends this with what it is sending: no syscall
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
                # say so before looking at the queues: a frame queued after this is woken for
                self._sleeping = True
                busy = bool(self._out or self._data)
                events = dict(poller.poll(0 if busy else int(HEARTBEAT * 1000)))
                self._sleeping = False
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
        """Every control frame, then up to FLUSH_BATCH stream items (then poll again).

        Stream items go out batched: one ZeroMQ message per worker packing up to DATA_BATCH of
        its items in order (:func:`~rosweb.graph.remote.wire.pack_batch`), not one send (and
        one release of the GIL, a wait for it behind a busy publisher thread) per item.
        """
        while self._out:
            self._send_now(self._out.popleft())
        data = self._data
        sent = 0
        while data and sent < FLUSH_BATCH:
            batches: dict[bytes, list[tuple[bytes, bytes]]] = {}
            sizes: dict[bytes, int] = {}
            for _ in range(min(len(data), DATA_BATCH)):
                peer, key, payload = data.popleft()
                items = batches.get(peer)
                if items is None:
                    items = batches[peer] = []
                    sizes[peer] = 0
                items.append((key, payload))
                sizes[peer] += len(payload)
                if sizes[peer] >= DATA_BATCH_BYTES:  # big messages (images) go on their own
                    self._send_items(peer, batches.pop(peer))
            for peer, items in batches.items():
                self._send_items(peer, items)
            sent += DATA_BATCH
            while self._out:  # replies never wait behind the stream
                self._send_now(self._out.popleft())

    def _send_items(self, peer: bytes, items: list[tuple[bytes, bytes]]) -> None:
        if len(items) == 1:  # alone (an image): as it is, without a copy when big
            self._send_now([peer, b"data", *items[0]], copy=len(items[0][1]) < ZERO_COPY)
        else:
            self._send_now([peer, b"batch", pack_batch(items)])

    def _send_now(self, frames: list[bytes], copy: bool = True) -> None:
        # zmq.Again: that client's queue is full: drop, as a PUB socket would
        with contextlib.suppress(zmq.Again):
            self._sock.send_multipart(frames, zmq.NOBLOCK, copy=copy)

    def _receive(self) -> None:
        for _ in range(1000):  # then let the outgoing side have a turn
            try:
                frames = self._sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) < 3:
                continue
            peer, kind, body = frames[0], frames[1], frames[2]
            known = self._touch(peer[:IDENTITY_SIZE])  # a client's call sockets are its own
            if kind == b"ping":
                self._out.append(
                    [peer, b"pong", dumps({"instance": self.instance, "known": known})]
                )
            elif kind == b"req":
                self._request(peer, body)
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

    def _request(self, peer: bytes, body: bytes) -> None:
        """On the I/O thread: a cheap call answered here and now, any other on the pool."""
        try:
            request = loads(body)
            inline = (request.get("obj"), request.get("method")) in self._inline
        except Exception:
            request, inline = None, False  # the pool answers with the error
        if inline:  # its reply goes out with the next flush of this thread: no wake needed
            self._out.append(self._answer(peer, body, request))
        else:
            self._pool.submit(self._handle, peer, body, request)

    def _handle(self, peer: bytes, body: bytes, request: Any = None) -> None:
        self._send(self._answer(peer, body, request))

    def _answer(self, peer: bytes, body: bytes, request: Any) -> list[bytes]:
        """The reply frames of one request (``request``: its body decoded, or None)."""
        call_id = None
        try:
            if request is None:
                request = loads(body)
            call_id = request["id"]
            value = self._dispatch(peer[:IDENTITY_SIZE], request)  # the reply: to the socket
            reply = {"id": call_id, "ok": True, "value": value}
        except Exception as err:
            if not isinstance(err, RosWebError):
                log.exception("agent: call failed")
            reply = {"id": call_id, "ok": False, "error": error_to_wire(err)}
        try:
            data = dumps(reply)
        except Exception as err:  # a served method returned what CBOR cannot carry
            data = dumps({"id": call_id, "ok": False, "error": error_to_wire(err)})
        return [peer, b"rep", data]

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
