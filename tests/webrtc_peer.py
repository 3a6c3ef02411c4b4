"""A WebRTC peer for tests and benchmarks (aiortc, as a browser would be): receives a topic from
``POST /api/webrtc/offer`` or sends frames to ``POST /api/webrtc/publish``. Its asyncio loop runs
on a thread of its own (Playwright's sync API keeps one in the main thread)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from fractions import Fraction
from typing import Any, TypeVar

import av
import numpy as np
import requests
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)

from video_helpers import counter, pattern

T = TypeVar("T")


class Loop:
    """An asyncio loop on a thread: ``run(coroutine)`` waits for its result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class Receiver:
    """One viewer: the counters of the frames it decoded, with their arrival times."""

    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.pc: RTCPeerConnection | None = None
        self.counters: list[tuple[float, int]] = []
        self.size: tuple[int, int] | None = None
        self.answer: dict[str, Any] = {}
        self.reader: asyncio.Future[None] | None = None

    def offer(self, url: str, topic: str, headers: dict[str, str] | None = None,
              **extra: Any) -> requests.Response:  # fmt: skip
        """Post an offer for ``topic``; on 200 the frames start coming in."""
        return self.loop.run(self._offer(url, topic, headers or {}, extra))

    async def _offer(
        self, url: str, topic: str, headers: dict[str, str], extra: dict[str, Any]
    ) -> requests.Response:
        pc = self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver("video", direction="recvonly")

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self.reader = asyncio.ensure_future(self._read(track))

        await pc.setLocalDescription(await pc.createOffer())
        body = {"topic": topic, "type": "offer", "sdp": pc.localDescription.sdp, **extra}
        response = await asyncio.to_thread(
            requests.post, f"{url}/api/webrtc/offer", json=body, headers=headers, timeout=20
        )
        if response.status_code == 200:
            self.answer = response.json()
            await pc.setRemoteDescription(RTCSessionDescription(**{
                k: self.answer[k] for k in ("sdp", "type")
            }))  # fmt: skip
        else:
            await pc.close()  # refused: nothing left open
        return response

    async def _read(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except Exception:  # the session ended
                return
            assert isinstance(frame, av.VideoFrame)
            self.size = (frame.width, frame.height)
            self.counters.append((time.monotonic(), counter(frame.to_ndarray(format="rgb24"))))

    def close(self) -> None:
        if self.pc is not None:
            self.loop.run(self.pc.close())


class PatternTrack(MediaStreamTrack):
    """A camera of the test pattern at ``fps`` (frame n shows counter n)."""

    kind = "video"

    def __init__(self, fps: int = 30, width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.fps, self.width, self.height = fps, width, height
        self.n = 0
        self.start = time.monotonic()

    async def recv(self) -> av.VideoFrame:  # type: ignore[override]
        due = self.start + self.n / self.fps
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        frame = av.VideoFrame.from_ndarray(
            np.ascontiguousarray(pattern(self.n, self.width, self.height)), format="rgb24"
        )
        frame.pts, frame.time_base = self.n * 3000, Fraction(1, 90_000)
        self.n += 1
        return frame


class Sender:
    """A browser's camera: sends the pattern to ``POST /api/webrtc/publish``."""

    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.pc: RTCPeerConnection | None = None
        self.track = PatternTrack()

    def publish(self, url: str, topic: str, headers: dict[str, str] | None = None,
                **extra: Any) -> requests.Response:  # fmt: skip
        return self.loop.run(self._publish(url, topic, headers or {}, extra))

    async def _publish(
        self, url: str, topic: str, headers: dict[str, str], extra: dict[str, Any]
    ) -> requests.Response:
        pc = self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver(self.track, direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        body = {"topic": topic, "type": "offer", "sdp": pc.localDescription.sdp, **extra}
        response = await asyncio.to_thread(
            requests.post, f"{url}/api/webrtc/publish", json=body, headers=headers, timeout=20
        )
        if response.status_code == 200:
            answer = response.json()
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        else:
            await pc.close()  # refused: nothing left open
        return response

    def close(self) -> None:
        if self.pc is not None:
            self.loop.run(self.pc.close())


def raw_offer(loop: Loop, make: Callable[[RTCPeerConnection], None]) -> str:
    """The SDP of an offer set up by ``make(pc)`` (for offers the server must refuse)."""

    async def build() -> str:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        make(pc)
        await pc.setLocalDescription(await pc.createOffer())
        sdp = str(pc.localDescription.sdp)
        await pc.close()
        return sdp

    return loop.run(build())
