"""WebRTC with aiortc: image topics to browsers, and a browser's camera to a topic.

:class:`WebRtc` runs aiortc's asyncio loop on a thread of its own (never a web server's loop) and
answers offers from any thread: :meth:`WebRtc.view` (the browser receives a topic) and
:meth:`WebRtc.receive` (the browser sends its camera; each frame is published through the
``publish`` it is given, the caller's guarded publish). Signalling is one offer in, one answer
out: aiortc gathers its candidates before it answers (no trickle). Without ICE servers only host
candidates are offered, enough on a LAN (aioice leaves out 127.0.0.1, so the robot needs an
address on the network the browser is on).

Viewers of the same (topic, width, bitrate, codec) share one :class:`SharedEncoder`; each gets
the encoded packets (one per frame) through a :class:`PacketTrack` whose backlog is bounded:
past :data:`MAX_PENDING` it drops them and waits for the next keyframe. Sessions are bounded
(``max_sessions``); one that fails, closes or never connects is dropped.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import secrets
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.codecs import is_rtx
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RTCP_PSFB_APP, RTCP_PSFB_FIR, RTCP_PSFB_PLI, RtcpPsfbPacket, unpack_remb_fci
from aiortc.sdp import SessionDescription
from av.packet import Packet
from av.video.frame import VideoFrame

from rosweb.core.video import frames
from rosweb.core.video.compressed import Subscribe
from rosweb.core.video.encoder import CODECS, SharedEncoder, Variant
from rosweb.core.video.inputs import Publish
from rosweb.errors import RosWebError, ValidationError

__all__ = ["MAX_PENDING", "OfferTimeout", "PacketTrack", "SessionLimit", "WebRtc"]

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_PENDING = 5  # frames a viewer may lag behind (~170 ms at 30 fps), then it skips to a keyframe
GRACE = 5.0  # seconds an encoder without viewers keeps running (a page reload comes back)
CONNECT_TIMEOUT = 30.0  # seconds a session may take to connect
_MIME = {"vp8": "video/VP8", "h264": "video/H264"}


class SessionLimit(RosWebError):
    """As many WebRTC sessions as allowed are open."""


class OfferTimeout(RosWebError):
    """No answer could be made in time (ICE gathering)."""


class PacketTrack(MediaStreamTrack):
    """A viewer's video track: the shared encoder's packets, a bounded backlog."""

    kind = "video"

    def __init__(self, encoder: SharedEncoder, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.encoder = encoder
        self.sent = 0
        self.skipped = 0
        self._rtc_loop = loop
        self._pending: collections.deque[Packet[Any]] = collections.deque()
        self._ready = asyncio.Event()
        self._need_key = True
        encoder.attach(id(self), self._push)

    def _push(self, packet: Packet[Any], key: bool) -> None:  # on the encoder's thread
        self._rtc_loop.call_soon_threadsafe(self._put, packet, key)

    def _put(self, packet: Packet[Any], key: bool) -> None:
        if len(self._pending) >= MAX_PENDING:
            self._pending.clear()  # this viewer is behind: skip, never queue
            self.skipped += 1
            self._need_key = True
            self.encoder.request_keyframe()
        if self._need_key and not key:
            return
        self._need_key = False
        self._pending.append(packet)
        self._ready.set()

    async def recv(self) -> Packet[Any]:
        while not self._pending:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        self.sent += 1
        return self._pending.popleft()

    def stop(self) -> None:
        super().stop()
        self.encoder.detach(id(self))
        self._ready.set()


def _watch_rtcp(sender: RTCRtpSender, track: PacketTrack) -> None:
    """Route a viewer's picture-loss reports and bitrate estimates to the shared encoder (aiortc
    applies them to the sender's own encoder, which only packetizes here)."""
    handle = sender._handle_rtcp_packet
    key = id(track)

    async def on_rtcp(packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket):
            if packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
                track.encoder.request_keyframe()
            elif packet.fmt == RTCP_PSFB_APP:
                try:
                    bitrate, _ = unpack_remb_fci(packet.fci)
                except ValueError:
                    pass
                else:
                    track.encoder.estimate(key, bitrate)
        await handle(packet)

    sender._handle_rtcp_packet = on_rtcp  # type: ignore[method-assign]


@dataclass
class Session:
    id: str
    kind: str  # view, send
    topic: str
    owner: str
    pc: RTCPeerConnection
    codec: str = ""
    created: float = field(default_factory=time.monotonic)
    track: PacketTrack | None = None
    frames: int = 0
    skipped: int = 0
    errors: int = 0
    task: asyncio.Future[None] | None = None

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "id": self.id, "kind": self.kind, "topic": self.topic, "owner": self.owner,
            "state": self.pc.connectionState, "codec": self.codec,
            "age": round(time.monotonic() - self.created, 1),
        }  # fmt: skip
        if self.track is not None:
            info.update(sent=self.track.sent, skipped=self.track.skipped)
        else:
            info.update(frames=self.frames, skipped=self.skipped, errors=self.errors)
        return info


def _offered_codecs(sdp: str, direction: str) -> list[str]:
    """The codecs rosweb knows in the offer's first video section that may go ``direction``."""
    try:
        description = SessionDescription.parse(sdp)
    except Exception as err:  # aiortc's parser raises whatever the text makes it raise
        raise ValidationError(f"not an SDP offer: {err or type(err).__name__}", "sdp") from err
    for media in description.media:
        if media.kind != "video":
            continue
        if media.direction not in (direction, "sendrecv"):
            raise ValidationError(
                f"the offer's video is {media.direction}: expected {direction} or sendrecv", "sdp"
            )
        mimes = {codec.mimeType.lower() for codec in media.rtp.codecs}
        return [name for name, mime in _MIME.items() if mime.lower() in mimes]
    raise ValidationError("the offer has no video section", "sdp")


def _only(transceiver: Any, mime: str) -> None:
    """Negotiate ``mime`` alone (and its retransmissions): the shared encoder makes one codec.
    aiortc settles a remote offer's codecs in setRemoteDescription, before the transceiver can
    be given preferences, so its negotiated list is narrowed here."""
    codecs = transceiver._codecs
    kept = {c.payloadType for c in codecs if c.mimeType.lower() == mime.lower()}
    transceiver._codecs = [
        c for c in codecs
        if c.payloadType in kept or (is_rtx(c) and c.parameters.get("apt") in kept)
    ]  # fmt: skip


def _description(offer: Any) -> RTCSessionDescription:
    if not isinstance(offer, dict) or not isinstance(offer.get("sdp"), str):
        raise ValidationError('expects an offer: {"type": "offer", "sdp": "v=0..."}', "sdp")
    if offer.get("type", "offer") != "offer":
        raise ValidationError(f"expects type offer, got {offer.get('type')!r}", "type")
    return RTCSessionDescription(sdp=offer["sdp"], type="offer")


class WebRtc:
    """The WebRTC sessions of a server, on aiortc's own loop thread."""

    def __init__(
        self,
        subscribe: Subscribe,
        *,
        ice_servers: Sequence[str] = (),
        max_sessions: int = 16,
        timeout: float = 10.0,
    ) -> None:
        self._subscribe = subscribe
        self.ice_servers = [RTCIceServer(urls=url) for url in ice_servers]
        self.max_sessions = max_sessions
        self.timeout = timeout
        self._encoders: dict[Variant, SharedEncoder] = {}
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._publishers = concurrent.futures.ThreadPoolExecutor(4, "rosweb-rtc-publish")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="rosweb-webrtc", daemon=True)
        self._thread.start()
        self._sweeper = asyncio.run_coroutine_threadsafe(self._sweep(), self._loop)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and wait for it (from any other thread)."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("WebRtc is called from its own loop")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(self.timeout)
        except concurrent.futures.TimeoutError as err:
            future.cancel()
            raise OfferTimeout(f"no answer within {self.timeout} s (ICE gathering)") from err

    # -- sessions --------------------------------------------------------------------------------

    def _new_session(self, kind: str, topic: str, owner: str) -> Session:
        with self._lock:
            if len(self._sessions) >= self.max_sessions:
                raise SessionLimit(f"{self.max_sessions} WebRTC sessions are open already "
                                   "(ROSWEB_WEBRTC_MAX_SESSIONS)")  # fmt: skip
            pc = RTCPeerConnection(RTCConfiguration(iceServers=list(self.ice_servers)))
            session = Session(secrets.token_urlsafe(12), kind, topic, owner, pc)
            self._sessions[session.id] = session

        @pc.on("connectionstatechange")
        async def changed() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self._close(session.id)

        return session

    def view(self, offer: Any, variant: Variant, owner: str = "") -> dict[str, Any]:
        """Answer a browser's offer to receive ``variant.topic``: {id, type, sdp, codec}."""
        description = _description(offer)
        offered = _offered_codecs(description.sdp, "recvonly")
        if not offered:
            raise ValidationError(
                f"the offer has no video codec rosweb sends ({', '.join(CODECS)})", "sdp"
            )
        codec = variant.codec if variant.codec in offered else offered[0]
        return self._call(self._view(description, variant._replace(codec=codec), owner))

    async def _view(
        self, offer: RTCSessionDescription, variant: Variant, owner: str
    ) -> dict[str, Any]:
        session = self._new_session("view", variant.topic, owner)
        try:
            pc = session.pc
            await pc.setRemoteDescription(offer)
            with self._lock:
                encoder = self._encoders.get(variant)
                if encoder is None:
                    encoder = self._encoders[variant] = SharedEncoder(variant, self._subscribe)
            track = session.track = PacketTrack(encoder, self._loop)
            session.codec = variant.codec
            sender = pc.addTrack(track)
            _watch_rtcp(sender, track)
            for transceiver in pc.getTransceivers():
                if transceiver.sender is sender:
                    _only(transceiver, _MIME[variant.codec])
            return await self._answer(session)
        except BaseException:
            await self._close(session.id)
            raise

    def receive(
        self, offer: Any, topic: str, publish: Publish, *, width: int = 0, jpeg: bool = False,
        owner: str = "",
    ) -> dict[str, Any]:  # fmt: skip
        """Answer a browser's offer to send its camera; each frame goes to ``publish`` as an
        Image (or a JPEG CompressedImage) on ``topic``."""
        description = _description(offer)
        if not _offered_codecs(description.sdp, "sendonly"):
            raise ValidationError(
                f"the offer has no video codec rosweb receives ({', '.join(CODECS)})", "sdp"
            )
        return self._call(self._receive(description, topic, publish, width, jpeg, owner))

    async def _receive(
        self, offer: RTCSessionDescription, topic: str, publish: Publish, width: int, jpeg: bool,
        owner: str,
    ) -> dict[str, Any]:  # fmt: skip
        session = self._new_session("send", topic, owner)
        pc = session.pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                session.task = asyncio.ensure_future(
                    self._publish_frames(session, track, publish, width, jpeg)
                )

        try:
            await pc.setRemoteDescription(offer)
            return await self._answer(session)
        except BaseException:
            await self._close(session.id)
            raise

    async def _publish_frames(
        self, session: Session, track: MediaStreamTrack, publish: Publish, width: int, jpeg: bool
    ) -> None:
        """Publish the browser's frames; at most one in conversion at a time (others skipped)."""
        loop = asyncio.get_running_loop()
        busy: asyncio.Future[None] | None = None
        frame_id = session.topic.strip("/").split("/")[0] or "webcam"
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if busy is not None and not busy.done():
                session.skipped += 1
                continue
            assert isinstance(frame, VideoFrame)
            busy = loop.run_in_executor(
                self._publishers, self._publish_one, session, frame, publish, width, jpeg, frame_id
            )

    @staticmethod
    def _publish_one(
        session: Session, frame: VideoFrame, publish: Publish, width: int, jpeg: bool,
        frame_id: str,
    ) -> None:  # fmt: skip
        pixels = frames.to_pixels(frame, width or None)
        head = frames.header(frame_id, session.frames)
        try:
            if jpeg:
                publish(session.topic, frames.COMPRESSED,
                        frames.compressed_message(frames.jpeg_of(pixels), head))  # fmt: skip
            else:
                publish(session.topic, frames.IMAGE, frames.image_message(pixels, head))
        except RosWebError as err:
            session.errors += 1
            if session.errors == 1:
                log.warning("webcam to %s: %s", session.topic, err)
            return
        session.frames += 1

    async def _answer(self, session: Session) -> dict[str, Any]:
        pc = session.pc
        await pc.setLocalDescription(await pc.createAnswer())
        local = pc.localDescription
        return {"id": session.id, "type": local.type, "sdp": local.sdp, "codec": session.codec}

    async def _close(self, sid: str) -> None:
        with self._lock:
            session = self._sessions.pop(sid, None)
        if session is not None:
            if session.task is not None:
                session.task.cancel()
            await session.pc.close()
            if session.track is not None:
                session.track.stop()

    def close_session(self, sid: str, owner: str | None = None) -> bool:
        """Close a session (only the owner's, when ``owner`` is given); False if none."""
        with self._lock:
            session = self._sessions.get(sid)
        if session is None or (owner is not None and session.owner != owner):
            return False
        self._call(self._close(sid))
        return True

    async def _sweep(self) -> None:
        """Every second: drop sessions that never connected, stop encoders nobody watches."""
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            with self._lock:
                stale = [
                    s.id for s in self._sessions.values()
                    if s.pc.connectionState != "connected" and now - s.created > CONNECT_TIMEOUT
                ]  # fmt: skip
                idle = [
                    v for v, e in self._encoders.items()
                    if e.idle_since is not None and now - e.idle_since > GRACE
                ]  # fmt: skip
                encoders = [self._encoders.pop(v) for v in idle]
            for sid in stale:
                await self._close(sid)
            for encoder in encoders:
                await asyncio.to_thread(encoder.close)

    # -- introspection ---------------------------------------------------------------------------

    def sessions(self) -> list[dict[str, Any]]:
        with self._lock:
            return [s.describe() for s in self._sessions.values()]

    def encoders(self) -> list[dict[str, Any]]:
        with self._lock:
            return [e.stats() for e in self._encoders.values()]

    def health(self) -> dict[str, Any]:
        return {"sessions": self.sessions(), "encoders": self.encoders(),
                "max_sessions": self.max_sessions}  # fmt: skip

    def close(self) -> None:
        async def close_all() -> None:
            self._sweeper.cancel()
            for sid in list(self._sessions):
                await self._close(sid)
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        if self._loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(5)
            except (concurrent.futures.TimeoutError, RuntimeError):
                log.warning("WebRTC sessions did not close within 5 s")
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        with self._lock:
            encoders = list(self._encoders.values())
            self._encoders.clear()
        for encoder in encoders:
            encoder.close()
        self._publishers.shutdown(wait=False, cancel_futures=True)
