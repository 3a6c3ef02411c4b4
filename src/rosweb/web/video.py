"""Video in the app: starts the camera inputs, the ``<topic>/compressed`` siblings and WebRTC, and
is the one adapter between them and the robot.

:func:`init_video` is called by the extension once the robot side is up. The video modules
(:mod:`rosweb.core.video`) know nothing of the app: they get ``publish`` and ``subscribe``
callables from here: the app's trusted robot's publish and subscribe, and a bound caller's
publish (guarded: roles, allow/deny, audit).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Flask

from rosweb.core.images import image_kind
from rosweb.core.video import missing
from rosweb.errors import ConfigError, NotFoundError
from rosweb.graph import normalize_name
from rosweb.web.auth import Principal
from rosweb.web.errors import ApiError
from rosweb.web.state import RosWebState

if TYPE_CHECKING:
    from rosweb.core.video.compressed import Compressor, Subscribe
    from rosweb.core.video.inputs import Inputs, Publish
    from rosweb.core.video.webrtc import WebRtc

__all__ = [
    "Video",
    "caller_publish",
    "image_type",
    "init_video",
    "video_health",
    "video_of",
]

log = logging.getLogger(__name__)


@dataclass
class Video:
    """The app's video parts (each None when not configured or not installed)."""

    inputs: Inputs | None = None
    compressor: Compressor | None = None
    webrtc: WebRtc | None = None  # started at the first WebRTC request (aiortc is ~35 MB)
    unavailable: str | None = None  # why WebRTC is off (the install hint)
    closers: list[Callable[[], None]] = field(default_factory=list)
    make_webrtc: Callable[[], WebRtc] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start_webrtc(self) -> WebRtc | None:
        """The WebRTC sessions, started on first use (None when video is not installed)."""
        with self._lock:
            if self.webrtc is None and self.make_webrtc is not None:
                self.webrtc = self.make_webrtc()
                self.closers.append(self.webrtc.close)
            return self.webrtc

    def health(self, graph: dict[str, Any] | None = None) -> dict[str, Any]:
        """For /api/health: every input, every compressed sibling, the WebRTC sessions. Under
        ``--workers`` the agent runs the inputs and siblings: its report (in ``graph``, the
        backend's health) says how they are."""
        agent = ((graph or {}).get("agent") or {}).get("video") or {}
        return {
            "inputs": self.inputs.health() if self.inputs else agent.get("inputs", []),
            "compressed": (
                self.compressor.health() if self.compressor else agent.get("compressed", [])
            ),
            "webrtc": self.webrtc.health() if self.webrtc else self._webrtc_idle(),
        }

    def _webrtc_idle(self) -> dict[str, Any]:
        if self.make_webrtc is None:
            return {"unavailable": self.unavailable}
        return {"sessions": [], "encoders": [], "started": False}

    def close(self) -> None:
        with self._lock:
            self.make_webrtc = None  # no start after the close
        for close in reversed(self.closers):
            try:
                close()
            except Exception:
                log.exception("closing video failed")
        self.closers.clear()


# -- the adapter: everything video does to the robot goes through these ----------------------


def trusted_publish(state: RosWebState) -> Publish:
    """The server's own publish (inputs, compressed siblings): the app's trusted robot."""
    from rosweb.core.video.robot import publisher

    return publisher(state.robot.local)


def trusted_advertise(state: RosWebState) -> Callable[[str, str], Any]:
    from rosweb.core.video.robot import advertiser

    return advertiser(state.robot.local)


def subscribe(state: RosWebState) -> Subscribe:
    """The server's own subscription through the hub, newest message only, never blocking."""
    from rosweb.core.video.robot import subscriber

    return subscriber(state.robot.local)


def caller_publish(state: RosWebState, principal: Principal, remote: str, topic: str) -> Publish:
    """A caller's guarded publish to ``topic`` (operator role, allow/deny, audit), checked now
    so that a refusal comes before any WebRTC work."""
    robot = state.bind(principal, remote, "webrtc")
    robot.write("topic", topic)

    def publish(name: str, type_name: str, msg: dict[str, Any]) -> None:
        robot.publish(name, msg, type_name)

    return publish


def image_type(state: RosWebState, principal: Principal, topic: str) -> str:
    """The type of an image topic the caller may see; 403, 404 or 422 otherwise."""
    name = normalize_name(topic)
    robot = state.bind(principal, "", "webrtc")
    robot.see("topic", name)
    try:
        type_name = robot.topic_type(name)
    except NotFoundError:
        envelope = robot.latest(name)  # it may have left the graph: its last message tells
        if envelope is None:
            raise
        type_name = envelope.type
    if image_kind(type_name) is None:
        raise ApiError(422, "not_an_image", f"{name} is a {type_name}, not an image", "topic")
    return str(type_name)


# -- start-up -----------------------------------------------------------------------------------


def video_of(app: Flask) -> Video:
    video: Video | None = app.extensions.get("rosweb_video")
    if video is None:
        raise ApiError(503, "no_node", "this process runs no robot node (reloader watcher)")
    return video


def video_health(app: Flask, graph: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """What /api/health says about video (None in a process without a node); ``graph``: the
    backend's health report (an agent's tells of the inputs it runs)."""
    video: Video | None = app.extensions.get("rosweb_video")
    return video.health(graph) if video is not None else None


def init_video(app: Flask, state: RosWebState) -> Video:
    """Start what the settings ask for (ConfigError, one line, for a source that cannot be
    opened or a missing extra); the parts close with ``video.close()``."""
    cfg = app.config
    video = Video(unavailable=missing())
    app.extensions["rosweb_video"] = video
    wanted = cfg["ROSWEB_INPUTS"] or cfg["ROSWEB_COMPRESSED_TOPICS"]
    if video.unavailable:
        if wanted:
            raise ConfigError(video.unavailable)
        return video

    def make_webrtc() -> WebRtc:
        from rosweb.core.video.webrtc import WebRtc

        return WebRtc(
            subscribe(state),
            ice_servers=cfg["ROSWEB_WEBRTC_ICE_SERVERS"],
            max_sessions=cfg["ROSWEB_WEBRTC_MAX_SESSIONS"],
            timeout=cfg["ROSWEB_WEBRTC_TIMEOUT"],
        )

    video.make_webrtc = make_webrtc
    if not wanted:
        return video
    from rosweb.core.video.compressed import Compressor
    from rosweb.core.video.inputs import Inputs

    try:
        if cfg["ROSWEB_INPUTS"]:
            video.inputs = Inputs(
                cfg["ROSWEB_INPUTS"], trusted_publish(state), advertise=trusted_advertise(state)
            )
            video.inputs.start()
            video.closers.append(video.inputs.close)
        if cfg["ROSWEB_COMPRESSED_TOPICS"]:
            video.compressor = Compressor(
                cfg["ROSWEB_COMPRESSED_TOPICS"], subscribe(state), trusted_publish(state),
                quality=cfg["ROSWEB_COMPRESSED_QUALITY"],
            )  # fmt: skip
            video.compressor.start()
            video.closers.append(video.compressor.close)
    except BaseException:
        video.close()
        raise
    return video
