"""The asyncio client: :class:`AsyncClient`, the twin of :class:`~rosweb.client.Client`.

Same calls, same answers, same errors, awaited; subscriptions are async iterators and the
WebSocket runs on the caller's event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import httpx

from rosweb.client import core
from rosweb.client.decode import Decoder
from rosweb.client.streams import AsyncInbox, Stream, Streams
from rosweb.client.sync import DEFAULT_URL
from rosweb.errors import ClientTimeout, NotFoundError, RosWebError
from rosweb.messages import Message

__all__ = ["AsyncClient", "AsyncParams", "AsyncSubscription"]


class AsyncClient:
    """A rosweb server, from asyncio code::

        async with AsyncClient("http://robot:8080") as robot:
            await robot.teleop("forward", speed=0.5)
            async for msg in robot.subscribe("/odom", limit=10):
                ...

    The arguments are those of :class:`~rosweb.client.Client`.
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
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        context = core.ssl_context(verify)
        self._http = httpx.AsyncClient(
            base_url=self.url, headers=headers, timeout=timeout, verify=context
        )
        self._streams = Streams(
            core.ws_url(self.url, token, bridge_path), reconnect=reconnect, ssl=context
        )
        self._decoder = Decoder(decode)
        self.params = AsyncParams(self)

    def __repr__(self) -> str:
        return f"AsyncClient({self.url!r})"

    async def request(self, request: core.Request) -> Any:
        """Send one REST request; the parsed JSON answer, or the error it stands for."""
        try:
            response = await self._http.request(
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

    async def _learn(self, type_name: str) -> None:
        # the type store is built in a thread: it takes a tenth of a second the first time
        known = await asyncio.to_thread(self._decoder.knows, type_name)
        if not known:
            self._decoder.learn(type_name, await self.request(core.schema(type_name)))

    async def _decode(self, type_name: str, value: Any) -> Any:
        if not self._decoder.enabled:
            return value
        await self._learn(type_name)
        return self._decoder.message(type_name, value)

    # -- graph ----------------------------------------------------------------------------------

    async def topics(self) -> dict[str, str]:
        return {t["name"]: t["type"] for t in (await self.request(core.topics()))["topics"]}

    async def services(self) -> dict[str, str]:
        return {s["name"]: s["type"] for s in (await self.request(core.services()))["services"]}

    async def nodes(self) -> list[str]:
        result: list[str] = (await self.request(core.nodes()))["nodes"]
        return result

    async def types(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = await self.request(core.types())
        return result

    async def schema(self, type_name: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(core.schema(type_name))
        return result

    async def health(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(core.health())
        return result

    # -- topics ---------------------------------------------------------------------------------

    async def latest(self, topic: str, timeout: float | None = None) -> Message:
        envelope = await self.request(core.latest(topic, timeout))
        if not self._decoder.enabled:
            raw: Message = envelope["msg"]
            return raw
        # the server may not know the type of a latched first message yet (then it sends "")
        type_name = envelope["type"] or await self._topic_type(core.normalize(topic))
        result: Message = await self._decode(type_name, envelope["msg"])
        return result

    async def publish(
        self, topic: str, msg: Any = None, type_name: str | None = None, *, latch: bool = False
    ) -> None:
        await self.request(core.publish(topic, msg if msg is not None else {}, type_name, latch))

    async def subscribe(
        self,
        topic: str,
        type_name: str | None = None,
        *,
        throttle_rate: float = 0,
        queue_length: int | None = None,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncSubscription:
        """Subscribe (see :meth:`Client.subscribe`); ``async for`` the messages."""
        stream = Stream(
            core.normalize(topic),
            type_name,
            throttle_rate,
            queue_length,
            AsyncInbox(queue_length if queue_length else 10),
        )
        await self._streams.add(stream)
        return AsyncSubscription(self, stream, limit, timeout)

    async def _topic_type(self, topic: str) -> str:
        type_name = (await self.topics()).get(topic)
        if type_name is None:
            raise NotFoundError("topic", topic)
        return type_name

    # -- services -------------------------------------------------------------------------------

    async def call(
        self, service: str, request: Any = None, timeout: float | None = None
    ) -> Message:
        answer = await self.request(core.call(service, request, timeout))
        if not self._decoder.enabled:
            result: Message = answer["response"]
            return result
        await self._learn(answer["type"])
        decoded: Message = self._decoder.response(answer["type"], answer["response"])
        return decoded

    async def service_info(self, service: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(core.service_info(service))
        return result

    # -- teleop ---------------------------------------------------------------------------------

    async def teleop(self, command: str, speed: float = 1.0) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(core.teleop(command, speed))
        return result

    async def stop(self) -> dict[str, Any]:
        return await self.teleop("stop")

    async def teleop_info(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(core.teleop_info())
        return result

    # -- lifetime -------------------------------------------------------------------------------

    async def close(self) -> None:
        await self._streams.close()
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class AsyncSubscription(AsyncIterator[Message]):
    """The messages of one topic: ``async for``; ``await close()`` (or ``async with``)."""

    def __init__(
        self, client: AsyncClient, stream: Stream, limit: int | None, timeout: float | None
    ) -> None:
        self.client = client
        self.topic = stream.topic
        self.count = 0
        self._stream = stream
        inbox = stream.inbox
        assert isinstance(inbox, AsyncInbox)
        self._inbox = inbox
        self._limit = limit
        self._timeout = timeout
        self._type = stream.type
        self.closed = False

    def __aiter__(self) -> AsyncSubscription:
        return self

    async def __anext__(self) -> Message:
        if self._limit is not None and self.count >= self._limit:
            await self.close()
            raise StopAsyncIteration
        try:
            raw = await self._inbox.get(self._timeout)
        except ClientTimeout:
            raise
        except RosWebError:
            self.closed = True
            raise
        if self._type is None:
            self._type = await self.client._topic_type(self.topic)
        self.count += 1
        result: Message = await self.client._decode(self._type, raw)
        return result

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.client._streams.remove(self._stream)

    async def __aenter__(self) -> AsyncSubscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class AsyncParams:
    """The robot's parameters, awaited: ``await robot.params.set(name, value)``."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def get(self, name: str, default: Any = None) -> Any:
        """A parameter's value (a namespace reads as an object); ``default`` if there is none."""
        try:
            return await self._client.request(core.get_param(name))
        except NotFoundError:
            return default

    async def set(self, name: str, value: Any) -> Any:
        """Set it; the value as the robot now has it."""
        return await self._client.request(core.set_param(name, value))

    async def delete(self, name: str) -> None:
        """Delete it; NotFoundError if there is none."""
        await self._client.request(core.delete_param(name))

    async def names(self) -> list[str]:
        names: list[str] = (await self._client.request(core.params()))["params"]
        return names

    async def meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = (await self._client.request(core.params())).get("meta", {})
        return meta
