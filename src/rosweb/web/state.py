"""What the web side keeps per app, in ``app.extensions["rosweb"]``: the Robot and the gate."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from flask import current_app, request

from rosweb.core import GuardedRobot, Robot, Subscription
from rosweb.core.bridge import BridgeOptions
from rosweb.errors import TooBusy
from rosweb.web.auth import Principal
from rosweb.web.errors import ApiError
from rosweb.web.security import Gate, current_principal

__all__ = ["BUFFERED", "RosWebState", "get_state", "refuse_buffered_stream", "request_robot"]

#: WSGI environ key a server sets when it buffers whole responses (Tornado's WSGI container):
#: an endless stream must never start there
BUFFERED = "rosweb.buffered"


@dataclass
class RosWebState:
    """Everything the web side uses, per app."""

    robot: Robot  # the guarded robot: backend, hub, control, policy, audit, camera
    gate: Gate  # authentication, roles, origins, rate limits
    bridge_options: BridgeOptions = field(default_factory=BridgeOptions)
    #: runs what may block (backend calls, service calls) off the sockets' threads and loops
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(32, thread_name_prefix="rosweb-bridge")
    )
    #: bound of the REST reads waiting for a first message at once (``?timeout=``)
    max_waiting_reads: int = 8
    #: run first on close, last added first (video: inputs, WebRTC)
    closers: list[Callable[[], None]] = field(default_factory=list)
    #: the app's own subscribers (``@rw.subscriber``), closed with the robot
    subscriptions: list[Subscription] = field(default_factory=list)
    _waiting: int = 0
    _closed: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def bind(self, principal: Principal, remote: str = "", via: str = "rest") -> GuardedRobot:
        return self.robot.bind(principal, remote=remote, via=via)

    def begin_wait(self) -> None:
        """Count one REST read that waits for a message; TooBusy (503) past the bound, so
        waiting reads can never take every WSGI thread (stops and the e-stop go through)."""
        with self._lock:
            if self._waiting >= self.max_waiting_reads:
                raise TooBusy(
                    f"{self._waiting} reads wait for a message already "
                    "(ROSWEB_MAX_WAITING_READS): retry, or subscribe over the WebSocket",
                    "too_many_waiting_reads",
                )
            self._waiting += 1

    def end_wait(self) -> None:
        with self._lock:
            self._waiting -= 1

    def close(self) -> None:
        """Stop the robot (a last stop, encoders, hub, backend) and the executor."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for close in reversed(self.closers):
            close()
        for subscription in self.subscriptions:
            subscription.close()
        self.robot.close()
        self.executor.shutdown(wait=False, cancel_futures=True)


def get_state() -> RosWebState:
    """The current app's rosweb state; 503 in a process that runs no node."""
    state: RosWebState | None = current_app.extensions.get("rosweb")
    if state is None:
        raise ApiError(503, "no_node", "this process runs no robot node (reloader watcher)")
    return state


def request_robot(via: str = "rest") -> GuardedRobot:
    """The robot as the current request's caller may use it."""
    return get_state().bind(current_principal(), request.remote_addr or "", via)


def refuse_buffered_stream() -> None:
    """An endless response (MJPEG, SSE) inside a server that buffers whole responses would grow
    without bound: refuse it (``rosweb run`` serves streams with native handlers)."""
    if request.environ.get(BUFFERED):
        raise ApiError(404, "not_found", "streams are served by the native handler of this path")
