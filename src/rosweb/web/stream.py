"""Camera routes for any WSGI server: ``GET /stream/<topic>.mjpg?quality=&width=&fps=``
(multipart/x-mixed-replace) and ``GET /snapshot/<topic>.jpg``. The encoders are the robot's
(:mod:`rosweb.core.camera`: one per topic, quality and width, shared by every viewer); under
``rosweb run`` the native handler of :mod:`rosweb.server.mjpeg` serves the stream.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from flask import Blueprint, Response, request

from rosweb.core.camera import BOUNDARY, JpegSource, frame_interval
from rosweb.core.names import ros_name
from rosweb.web.errors import ApiError
from rosweb.web.state import get_state, refuse_buffered_stream, request_robot

__all__ = ["mjpeg_parts", "stream_blueprint"]

stream_blueprint = Blueprint("rosweb_stream", __name__)


def mjpeg_parts(source: JpegSource, interval: float) -> Iterator[bytes]:
    """Blocking multipart stream (Flask): the newest frame each time, at most 1/interval fps."""
    seq = 0
    try:
        while True:
            seq, part = source.wait(seq, timeout=10.0)
            if part is not None:
                yield part
                if interval:
                    time.sleep(interval)
    finally:
        source.detach()


def _source(topic: str, via: str) -> JpegSource:
    request_robot(via).see("topic", ros_name(topic, "topic"))
    return get_state().robot.camera.source(topic, request.args)


@stream_blueprint.get("/stream/<path:topic>.mjpg")
def mjpeg(topic: str) -> Response:
    refuse_buffered_stream()
    interval = frame_interval(request.args)
    source = _source(topic, "mjpeg")
    response = Response(
        mjpeg_parts(source, interval), mimetype=f"multipart/x-mixed-replace; boundary={BOUNDARY}"
    )
    response.headers["Cache-Control"] = "no-cache, no-store"
    return response


@stream_blueprint.get("/snapshot/<path:topic>.jpg")
def snapshot(topic: str) -> Response:
    source = _source(topic, "snapshot")
    try:
        _, _part = source.wait(0, timeout=5.0)
        jpeg = source.jpeg
    finally:
        source.detach()
    if jpeg is None:
        raise ApiError(404, "no_message", f"no frame on {source.variant.topic} within 5 s")
    response = Response(jpeg, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "no-cache, no-store"
    return response
