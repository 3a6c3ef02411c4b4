"""Service calls of the ROS 1 backend: pooled persistent proxies, a timeout without a thread.

A call runs in its caller's thread. Its timeout is kept by one watcher thread for every call
(:class:`Deadlines`): at a call's deadline it shuts the call's connection down, so rospy's
blocked read returns at once and the call fails as a timeout. That spares a call the two thread
hand-offs a pool with ``future.result(timeout)`` costs (a third of a Trigger call's time through
rosbridge). A proxy not connected yet (its first call) connects inside ``call``, before the
watcher could reach its socket: that call runs on a small pool instead, as before.

Proxies are persistent and pooled per service: each call owns one, so calls are thread-safe and
concurrent; a proxy that failed or timed out is closed, not returned to the pool.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from rosweb.errors import ServiceTimeout

__all__ = ["Deadlines", "Proxies"]

log = logging.getLogger(__name__)


class Deadlines:
    """One thread that runs a callback for each watched call past its deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._calls: dict[int, tuple[float, Callable[[], None]]] = {}
        self._ids = itertools.count()
        self._next = math.inf  # when the watcher wakes up next
        self._thread: threading.Thread | None = None
        self._closed = False

    def watch(self, deadline: float, on_expiry: Callable[[], None]) -> int:
        key = next(self._ids)
        with self._cond:
            self._calls[key] = (deadline, on_expiry)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="rosweb-ros1-deadlines", daemon=True
                )
                self._thread.start()
            if deadline < self._next:  # sooner than the watcher wakes: tell it
                self._cond.notify()
        return key

    def done(self, key: int) -> bool:
        """The call ended; False if its deadline passed first (its callback ran)."""
        with self._cond:
            return self._calls.pop(key, None) is not None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                now = time.monotonic()
                expired = [k for k, (deadline, _) in self._calls.items() if deadline <= now]
                callbacks = [self._calls.pop(k)[1] for k in expired]
                if not callbacks:
                    self._next = min((d for d, _ in self._calls.values()), default=math.inf)
                    self._cond.wait(None if self._next == math.inf else self._next - now)
                    continue
            for callback in callbacks:
                try:
                    callback()
                except Exception:
                    log.exception("ending a timed-out service call failed")


def _shut(proxy: Any) -> Callable[[], None]:
    def shut() -> None:
        transport = proxy.transport
        sock = getattr(transport, "socket", None)
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)

    return shut


class Proxies:
    """rospy service proxies, pooled per service, and the calls made with them."""

    def __init__(self, rospy: Any) -> None:
        self._rospy = rospy
        self._lock = threading.Lock()
        self._pools: dict[str, list[Any]] = {}
        self._deadlines = Deadlines()
        self._connecting = ThreadPoolExecutor(max_workers=16, thread_name_prefix="rosweb-ros1-call")

    def call(self, name: str, cls: Any, request: Any, timeout: float | None) -> Any:
        """One call with a proxy of the pool (a new one if none is free). Raises ServiceTimeout,
        or rospy's ServiceException (the caller decides whether to retry)."""
        proxy = self._take(name, cls)
        try:
            if proxy.transport is None:
                response = self._call_pooled(name, proxy, request, timeout)
            else:
                response = self._call_here(name, proxy, request, timeout)
        except BaseException:
            proxy.close()
            raise
        with self._lock:
            self._pools.setdefault(name, []).append(proxy)
        return response

    def _call_pooled(self, name: str, proxy: Any, request: Any, timeout: float | None) -> Any:
        future = self._connecting.submit(proxy.call, request)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            raise ServiceTimeout(f"service {name} did not answer within {timeout} s") from None

    def _call_here(self, name: str, proxy: Any, request: Any, timeout: float | None) -> Any:
        if timeout is None:
            return proxy.call(request)
        key = self._deadlines.watch(time.monotonic() + timeout, _shut(proxy))
        try:
            response = proxy.call(request)
        except self._rospy.ServiceException:
            if not self._deadlines.done(key):
                raise ServiceTimeout(f"service {name} did not answer within {timeout} s") from None
            raise
        if not self._deadlines.done(key):  # answered as the deadline passed: the connection
            proxy.close()  # was shut, the answer is good
            proxy.transport = None
        return response

    def _take(self, name: str, cls: Any) -> Any:
        with self._lock:
            pool = self._pools.get(name)
            if pool:
                return pool.pop()
        return self._rospy.ServiceProxy(name, cls, persistent=True)

    def close(self) -> None:
        with self._lock:
            proxies = [p for pool in self._pools.values() for p in pool]
            self._pools.clear()
        for proxy in proxies:
            proxy.close()
        self._deadlines.close()
        self._connecting.shutdown(wait=False, cancel_futures=True)
