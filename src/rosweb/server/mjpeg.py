"""The MJPEG stream as a native Tornado handler (``rosweb run``): each viewer gets the newest
frame when it has taken the previous one (a slow one skips frames, nothing queues)."""

from __future__ import annotations

import asyncio
from typing import Any

import tornado.iostream
import tornado.web

from rosweb.core.camera import BOUNDARY, frame_interval
from rosweb.core.names import ros_name
from rosweb.errors import RosWebError
from rosweb.server.errors import TornadoJsonErrors, viewer, write_error_of
from rosweb.server.offload import off_loop
from rosweb.web.state import RosWebState

__all__ = ["MjpegHandler"]


class MjpegHandler(TornadoJsonErrors, tornado.web.RequestHandler):
    """``GET /stream/<topic>.mjpg``."""

    def initialize(self, state: RosWebState, stall_timeout: float = 10.0) -> None:
        self.state = state
        self.stall_timeout = stall_timeout
        self.gone = False
        self.fresh = asyncio.Event()  # a new frame, or the viewer left

    async def get(self, topic: str) -> None:
        args = {k: self.get_argument(k) for k in self.request.arguments}
        try:
            robot = viewer(self, self.state, "mjpeg")
            robot.see("topic", ros_name(topic, "topic"))
            interval = frame_interval(args)
            source = await off_loop(self.state.executor, self.state.robot.camera.source,
                                    topic, args)  # fmt: skip
        except RosWebError as err:
            return write_error_of(self, err)
        connection: Any = self.request.connection
        connection.stream.set_nodelay(True)
        self.set_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.set_header("Cache-Control", "no-cache, no-store")
        loop = asyncio.get_running_loop()
        fresh = self.fresh

        def listener() -> None:  # on the encoder's thread
            loop.call_soon_threadsafe(fresh.set)

        source.listeners.add(listener)
        seq = 0
        try:
            while not self.gone:
                if source.latest()[0] <= seq:
                    fresh.clear()
                    try:
                        await asyncio.wait_for(fresh.wait(), 1.0)
                    except TimeoutError:
                        continue
                if self.gone:
                    break
                seq, part = source.latest()
                self.write(part)
                # a slow viewer waits here (frames are skipped meanwhile); a stalled one goes
                await asyncio.wait_for(self.flush(), self.stall_timeout)
                if interval:
                    await asyncio.sleep(interval)
        except (tornado.iostream.StreamClosedError, TimeoutError):
            pass
        finally:
            source.listeners.discard(listener)
            source.detach()

    def on_connection_close(self) -> None:
        self.gone = True
        self.fresh.set()
