"""The synchronous client: :class:`Client`.

REST (``httpx``) for requests and answers; topic streams over the rosbridge WebSocket, run by
:class:`~rosweb.client.streams.Streams` on an event loop in a thread the client starts on its
first subscription.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator, MutableMapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from rosweb.client import core
from rosweb.client.decode import Decoder
from rosweb.client.streams import Stream, Streams, ThreadInbox
from rosweb.errors import ClientTimeout, NotFoundError, RosWebError
from rosweb.messages import Message

__all__ = ["Client", "Params", "Subscription"]

T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8080"


class _LoopThread:
    """An event loop running in a daemon thread, for the WebSocket."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="rosweb-client", daemon=True
        )
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class Client:
    """A rosweb server, from Python::

        with Client("http://robot:8080", token="...") as robot:
            robot.publish("/cmd_vel", {"linear": {"x": 0.2}})
            for msg in robot.subscribe("/odom", throttle_rate=100, limit=10):
                print(msg["pose"]["pose"]["position"])

    ``token`` goes as ``Authorization: Bearer`` on every request and as ``?token=`` on the
    WebSocket. ``timeout`` bounds each request (plus the wait a request asks the server for).
    ``decode``: messages in rosweb's Python form (``uint8[]`` as ``bytes``, NaN as ``nan``);
    ``False`` gives the JSON as sent (base64 text, ``None``). ``reconnect``: subscriptions
    survive a dropped WebSocket (the client reconnects with backoff and subscribes again).
    Errors are the classes of :mod:`rosweb.errors`.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        decode: bool = True,
        reconnect: bool = True,
        bridge_path: str = "/ws",
        verify: core.Verify = True,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.reconnect = reconnect
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._ssl = core.ssl_context(verify)
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, verify=self._ssl
        )
        self._ws_url = core.ws_url(self.url, token, bridge_path)
        self._decoder = Decoder(decode)
        self._loop: _LoopThread | None = None
        self._streams: Streams | None = None
        self._lock = threading.Lock()
        self.params = Params(self)

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    # -- plumbing -------------------------------------------------------------------------------

    def request(self, request: core.Request) -> Any:
        """Send one REST request; the parsed JSON answer, or the error it stands for."""
        try:
            response = self._http.request(
                request.method,
                request.path,
                params=request.params,
                content=request.body,
                headers=request.headers,
                timeout=self.timeout + request.wait,
            )
        except httpx.HTTPError as err:
            raise core.transport_error(request, self.url, self.timeout + request.wait, err) from err
        return core.answer(request, response.status_code, response.content, response.headers)

    def _decode(self, type_name: str, value: Any) -> Any:
        if self._decoder.enabled and not self._decoder.knows(type_name):
            self._decoder.learn(type_name, self.request(core.schema(type_name)))
        return self._decoder.message(type_name, value)

    # -- graph ----------------------------------------------------------------------------------

    def topics(self) -> dict[str, str]:
        """Topic names and their types, as ``{"/odom": "nav_msgs/Odometry", ...}``."""
        return {t["name"]: t["type"] for t in self.request(core.topics())["topics"]}

    def services(self) -> dict[str, str]:
        """Service names and their types."""
        return {s["name"]: s["type"] for s in self.request(core.services())["services"]}

    def nodes(self) -> list[str]:
        """Node names."""
        result: list[str] = self.request(core.nodes())["nodes"]
        return result

    def types(self) -> dict[str, list[str]]:
        """Known types: ``{"messages": [...], "services": [...]}``."""
        result: dict[str, list[str]] = self.request(core.types())
        return result

    def schema(self, type_name: str) -> dict[str, Any]:
        """The schema of a message or service type (fields, constants, md5sum, definition)."""
        result: dict[str, Any] = self.request(core.schema(type_name))
        return result

    def health(self) -> dict[str, Any]:
        """The server's health; ``["ok"]`` is false (not an exception) when the backend is down."""
        result: dict[str, Any] = self.request(core.health())
        return result

    # -- topics ---------------------------------------------------------------------------------

    def latest(self, topic: str, timeout: float | None = None) -> Message:
        """The latest message on ``topic``, waiting up to ``timeout`` s (server default 2 s) for
        a first one; NotFoundError if there is no such topic or no message."""
        envelope = self.request(core.latest(topic, timeout))
        if not self._decoder.enabled:
            raw: Message = envelope["msg"]
            return raw
        # the server may not know the type of a latched first message yet (then it sends "")
        type_name = envelope["type"] or self._topic_type(core.normalize(topic))
        result: Message = self._decode(type_name, envelope["msg"])
        return result

    def publish(
        self, topic: str, msg: Any = None, type_name: str | None = None, *, latch: bool = False
    ) -> None:
        """Publish ``msg`` (missing fields get defaults; ``bytes`` allowed for ``uint8[]``).
        ``type_name`` is needed for a topic the robot does not have yet."""
        self.request(core.publish(topic, msg if msg is not None else {}, type_name, latch))

    def subscribe(
        self,
        topic: str,
        type_name: str | None = None,
        *,
        throttle_rate: float = 0,
        queue_length: int | None = None,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Subscription:
        """Messages of ``topic`` as they come, over the WebSocket.

        ``throttle_rate``: at least this many ms between messages; ``queue_length``: messages
        kept for a slow reader (the newest win; server default 10); ``limit``: stop after that
        many; ``timeout``: ClientTimeout when no message comes within that many s. Iterate it,
        and close it (or use ``with``) when done early.
        """
        stream = Stream(
            core.normalize(topic),
            type_name,
            throttle_rate,
            queue_length,
            ThreadInbox(queue_length if queue_length else 10),
        )
        streams, loop = self._stream_loop()
        loop.run(streams.add(stream))
        return Subscription(self, stream, limit, timeout)

    def _stream_loop(self) -> tuple[Streams, _LoopThread]:
        with self._lock:
            if self._loop is None or self._streams is None:
                self._loop = _LoopThread()
                self._streams = Streams(self._ws_url, reconnect=self.reconnect, ssl=self._ssl)
            return self._streams, self._loop

    def _unsubscribe(self, stream: Stream) -> None:
        with self._lock:
            streams, loop = self._streams, self._loop
        if streams is not None and loop is not None:
            loop.run(streams.remove(stream))

    def _topic_type(self, topic: str) -> str:
        type_name = self.topics().get(topic)
        if type_name is None:
            raise NotFoundError("topic", topic)
        return type_name

    # -- services -------------------------------------------------------------------------------

    def call(self, service: str, request: Any = None, timeout: float | None = None) -> Message:
        """Call a service with ``request`` (a dict; missing fields get defaults); its response.
        ServiceError if the handler failed, ServiceTimeout after ``timeout`` s."""
        answer = self.request(core.call(service, request, timeout))
        type_name = answer["type"]
        if self._decoder.enabled and not self._decoder.knows(type_name):
            self._decoder.learn(type_name, self.request(core.schema(type_name)))
        result: Message = self._decoder.response(type_name, answer["response"])
        return result

    def service_info(self, service: str) -> dict[str, Any]:
        """A service's type and its request/response schema."""
        result: dict[str, Any] = self.request(core.service_info(service))
        return result

    # -- teleop ---------------------------------------------------------------------------------

    def teleop(self, command: str, speed: float = 1.0) -> dict[str, Any]:
        """Drive: ``forward``, ``back``, ``left``, ``right`` or ``stop`` at ``speed`` (0..1 of the
        server's teleop speeds). A motion lasts the server's deadman timeout unless repeated."""
        result: dict[str, Any] = self.request(core.teleop(command, speed))
        return result

    def stop(self) -> dict[str, Any]:
        """Stop the robot (``teleop("stop")``)."""
        return self.teleop("stop")

    def teleop_info(self) -> dict[str, Any]:
        """Teleop topic, commands, speeds, deadman timeout and limits."""
        result: dict[str, Any] = self.request(core.teleop_info())
        return result

    # -- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP connections and the WebSocket; subscriptions end."""
        with self._lock:
            streams, loop = self._streams, self._loop
            self._streams = self._loop = None
        if streams is not None and loop is not None:
            loop.run(streams.close())
            loop.stop()
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Subscription(Iterator[Message]):
    """The messages of one topic: iterate; ``close()`` (or ``with``) to unsubscribe early."""

    def __init__(
        self, client: Client, stream: Stream, limit: int | None, timeout: float | None
    ) -> None:
        self.client = client
        self.topic = stream.topic
        self.count = 0  # messages given so far
        self._stream = stream
        inbox = stream.inbox
        assert isinstance(inbox, ThreadInbox)
        self._inbox = inbox
        self._limit = limit
        self._timeout = timeout
        self._type = stream.type
        self.closed = False

    def __iter__(self) -> Subscription:
        return self

    def __next__(self) -> Message:
        if self._limit is not None and self.count >= self._limit:
            self.close()
            raise StopIteration
        try:
            raw = self._inbox.get(self._timeout)
        except ClientTimeout:
            raise
        except RosWebError:
            self.closed = True
            raise
        if self._type is None:
            self._type = self.client._topic_type(self.topic)
        self.count += 1
        result: Message = self.client._decode(self._type, raw)
        return result

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.client._unsubscribe(self._stream)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Params(MutableMapping[str, Any]):
    """The robot's parameters as a mapping: ``params["/robot/max_linear_speed"] = 0.5``.

    Reading a namespace gives an object of its values; a missing name is a ``KeyError``
    (wrapping NotFoundError); a refused value raises ValidationError. Iteration lists the
    names of ``GET /api/params``.
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    def __getitem__(self, name: str) -> Any:
        try:
            return self._client.request(core.get_param(name))
        except NotFoundError as err:
            raise KeyError(name) from err

    def __setitem__(self, name: str, value: Any) -> None:
        self._client.request(core.set_param(name, value))

    def __delitem__(self, name: str) -> None:
        try:
            self._client.request(core.delete_param(name))
        except NotFoundError as err:
            raise KeyError(name) from err

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"<Params of {self._client.url}>"

    def names(self) -> list[str]:
        """Every parameter name."""
        names: list[str] = self._client.request(core.params())["params"]
        return names

    def meta(self) -> dict[str, Any]:
        """Ranges, units and descriptions the robot declares, by parameter name."""
        meta: dict[str, Any] = self._client.request(core.params()).get("meta", {})
        return meta
