"""Topic streams over the rosbridge WebSocket, reconnecting by themselves (asyncio).

:class:`Streams` holds one WebSocket (the ``websockets`` library) and every subscription of one
client. When the socket drops after it had been up (the server restarted, the network blinked),
it reconnects with exponential backoff and subscribes again to everything still subscribed; the
subscriptions never notice but for the messages published while it was down. A first connection
that fails, a refused handshake (401, 403) or ``reconnect=False`` end the subscriptions with the
error instead.

Messages go to each subscription's inbox as the JSON the server sent (decoding happens in the
reader's thread or task, not in the socket's). The synchronous client runs :class:`Streams` on an
event loop in a thread of its own; :class:`ThreadInbox` hands messages across.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import logging
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from ssl import SSLContext
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from rosweb.client import core
from rosweb.errors import (
    AuthError,
    ClientConnectionError,
    ClientTimeout,
    PermissionDenied,
    RosWebError,
    ServerError,
)

__all__ = ["AsyncInbox", "Inbox", "Stream", "Streams", "ThreadInbox", "backoff"]

log = logging.getLogger(__name__)

MAX_FRAME = 64 << 20  # bytes of one frame: a camera image as base64 fits


def backoff(first: float = 0.1, limit: float = 5.0) -> Iterator[float]:
    """Delays between reconnection attempts: doubling from ``first`` up to ``limit``, jittered."""
    delay = first
    while True:
        yield delay * random.uniform(0.5, 1.0)
        delay = min(delay * 2, limit)


class Inbox:
    """Messages of one subscription, newest ``size`` kept (drop-oldest), then maybe an error."""

    def __init__(self, size: int) -> None:
        self.items: collections.deque[Any] = collections.deque(maxlen=max(size, 1))
        self.error: RosWebError | None = None

    def deliver(self, msg: Any) -> None:
        self.items.append(msg)
        self._wake()

    def fail(self, error: RosWebError) -> None:
        if self.error is None:
            self.error = error
        self._wake()

    def _wake(self) -> None:
        raise NotImplementedError


class ThreadInbox(Inbox):
    """Filled on the event loop's thread, read from any other."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self._ready = threading.Condition()

    def deliver(self, msg: Any) -> None:
        with self._ready:
            super().deliver(msg)

    def fail(self, error: RosWebError) -> None:
        with self._ready:
            super().fail(error)

    def _wake(self) -> None:
        self._ready.notify_all()

    def get(self, timeout: float | None) -> Any:
        """The oldest message kept; the error once none is left; ClientTimeout after ``timeout``."""
        with self._ready:
            if not self._ready.wait_for(lambda: self.items or self.error, timeout):
                raise ClientTimeout(f"no message within {timeout:g} s")
            if self.items:
                return self.items.popleft()
            assert self.error is not None
            raise self.error


class AsyncInbox(Inbox):
    """Filled and read on one event loop."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self._ready = asyncio.Event()

    def _wake(self) -> None:
        self._ready.set()

    async def get(self, timeout: float | None) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.items and self.error is None:
            self._ready.clear()
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                await asyncio.wait_for(self._ready.wait(), left)
            except TimeoutError:
                raise ClientTimeout(f"no message within {timeout:g} s") from None
        if self.items:
            return self.items.popleft()
        assert self.error is not None
        raise self.error


_ids = itertools.count(1)


@dataclass
class Stream:
    """One subscription: what to ask the server, where its messages go."""

    topic: str
    type: str | None
    throttle_rate: float  # ms between messages, 0 for all
    queue_length: int | None
    inbox: Inbox
    sid: str = field(default_factory=lambda: f"rosweb-client:{next(_ids)}")
    last: float = -1e18  # monotonic time of the last message delivered
    #: set once the server has the subscription (it answered an op sent after it)
    active: asyncio.Event = field(default_factory=asyncio.Event)

    def op(self) -> str:
        return core.subscribe_op(
            self.sid, self.topic, self.type, self.throttle_rate, self.queue_length
        )

    def probe(self) -> str:
        """An op the server answers after it has handled ``op()`` (one connection's ops are
        handled in order): a rosapi ``get_time``, which any role may call."""
        return json.dumps({"op": "call_service", "service": "/rosapi/get_time",
                           "id": f"{PROBE}{self.sid}"})  # fmt: skip


#: ids of the probes that tell a subscription is active
PROBE = "active:"
#: seconds ``subscribe`` waits for the server to have the subscription
ACTIVE_WAIT = 5.0


class Streams:
    """Every subscription of one client over one WebSocket that reconnects."""

    def __init__(
        self,
        url: str,
        *,
        reconnect: bool = True,
        max_delay: float = 5.0,
        ssl: SSLContext | None = None,
    ) -> None:
        self.url = url
        self.ssl = ssl if url.startswith("wss:") else None  # a ws:// URL takes none
        self.reconnect = reconnect
        self.max_delay = max_delay
        self.connections = 0  # successful connections so far: reconnects are this minus one
        self._streams: dict[str, Stream] = {}
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self._ws is not None

    async def add(self, stream: Stream) -> None:
        """Subscribe; returns once the server has the subscription (a message published after
        it is received), or after :data:`ACTIVE_WAIT` s or an error."""
        self._streams[stream.sid] = stream
        if self._ws is not None:
            await self._send(self._ws, stream.op())
            await self._send(self._ws, stream.probe())
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="rosweb-ws")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stream.active.wait(), ACTIVE_WAIT)

    async def remove(self, stream: Stream) -> None:
        if self._streams.pop(stream.sid, None) is not None and self._ws is not None:
            await self._send(self._ws, core.unsubscribe_op(stream.sid, stream.topic))

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for stream in self._streams.values():
            stream.inbox.fail(ClientConnectionError("the client is closed"))
        self._streams.clear()

    async def _send(self, ws: ClientConnection, frame: str) -> None:
        with contextlib.suppress(ConnectionClosed):  # the reader sees it and reconnects
            await ws.send(frame)

    # -- the connection -------------------------------------------------------------------------

    async def _run(self) -> None:
        delays = backoff(limit=self.max_delay)
        while self._streams:
            try:
                async with connect(
                    self.url, max_size=MAX_FRAME, open_timeout=10, ssl=self.ssl
                ) as ws:
                    self.connections += 1
                    if self.connections > 1:
                        log.info("rosweb client: reconnected to %s", self.url.split("?")[0])
                    delays = backoff(limit=self.max_delay)
                    self._ws = ws
                    for stream in list(self._streams.values()):
                        await self._send(ws, stream.op())
                        await self._send(ws, stream.probe())
                    async for frame in ws:
                        self._dispatch(frame)
                error: RosWebError = ClientConnectionError("the server closed the connection")
            except InvalidStatus as err:
                status = err.response.status_code
                if status in (401, 403):
                    cls = AuthError if status == 401 else PermissionDenied
                    self._fail_all(cls(f"WebSocket refused: HTTP {status}"))
                    return
                if status < 500:
                    self._fail_all(ServerError(f"WebSocket refused: HTTP {status}", status, "ws"))
                    return
                error = ClientConnectionError(f"WebSocket refused: HTTP {status}")
            except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake) as err:
                error = ClientConnectionError(f"cannot reach {self.url.split('?')[0]}: {err}")
            finally:
                self._ws = None
            if not self.reconnect or self.connections == 0:
                self._fail_all(error)
                return
            delay = next(delays)
            log.info("rosweb client: %s; reconnecting in %.2f s", error, delay)
            await asyncio.sleep(delay)

    def _fail_all(self, error: RosWebError) -> None:
        for stream in self._streams.values():
            stream.inbox.fail(error)
            stream.active.set()  # nothing to wait for
        self._streams.clear()

    def _dispatch(self, frame: str | bytes) -> None:
        if isinstance(frame, bytes):
            return  # only asked for JSON
        try:
            message = json.loads(frame)
            op = message["op"]
        except (ValueError, KeyError, TypeError):
            log.warning("rosweb client: not a rosbridge frame: %.80s", frame)
            return
        if op == "publish":
            topic = core.normalize(str(message.get("topic", "")))
            now = time.monotonic()
            for stream in self._streams.values():
                if stream.topic == topic and (now - stream.last) * 1000 >= stream.throttle_rate:
                    stream.last = now
                    stream.inbox.deliver(message.get("msg"))
        elif op == "service_response" and str(message.get("id", "")).startswith(PROBE):
            active = self._streams.get(str(message["id"])[len(PROBE) :])
            if active is not None:
                active.active.set()
        elif op == "status" and message.get("level") == "error":
            if str(message.get("id", "")).startswith(PROBE):
                return  # a server without rosapi's get_time: the subscription stands
            refused = self._streams.pop(str(message.get("id")), None)
            if refused is None:
                log.warning("rosweb client: server says: %s", message.get("msg"))
            else:
                refused.inbox.fail(ServerError(str(message.get("msg")), None, "rosbridge_status"))
                refused.active.set()
