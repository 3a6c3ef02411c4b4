"""Pictures between ROS image messages, numpy arrays and PyAV frames: no I/O, no threads.

Messages are read by :mod:`rosweb.core.images` (the reading MJPEG shares): ``sensor_msgs/Image``
(rgb8, bgr8, rgba8, bgra8, mono8, mono16) and ``sensor_msgs/CompressedImage`` (JPEG, PNG) become
a :class:`~rosweb.core.images.Picture`, then a yuv420p frame for an encoder, or an RGB (or grey)
array; an array becomes an ``Image`` (rgb8) or a JPEG ``CompressedImage`` with a header.
"""

from __future__ import annotations

import time
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from av.video.frame import VideoFrame

from rosweb.core import images
from rosweb.core.images import COMPRESSED, IMAGE, IMAGE_TYPES, Picture

__all__ = [
    "COMPRESSED",
    "IMAGE",
    "IMAGE_TYPES",
    "Picture",
    "array_of",
    "compressed_message",
    "header",
    "image_message",
    "jpeg_of",
    "scaled_size",
    "to_pixels",
    "video_frame",
]

Pixels = npt.NDArray[np.uint8]


def array_of(type_name: str, msg: dict[str, Any]) -> Pixels:
    """The picture of an Image or CompressedImage: (h, w, 3) RGB or (h, w) grey, uint8."""
    return images.to_rgb(images.picture(type_name, msg))


def scaled_size(width: int, height: int, target_width: int | None) -> tuple[int, int]:
    """(width, height) at ``target_width`` (never larger than the source), both even (yuv420p)."""
    if target_width and target_width < width:
        height = max(2, round(height * target_width / width))
        width = target_width
    return max(2, width - width % 2), max(2, height - height % 2)


def video_frame(pic: Picture, width: int | None = None) -> VideoFrame:
    """A yuv420p frame of ``pic``, scaled down to ``width`` if given (even dimensions): one
    libswscale pass from the picture's own layout (BGR, RGBA, ... need no reordering first)."""
    frame = VideoFrame.from_ndarray(pic.pixels, format=pic.layout)
    size = scaled_size(frame.width, frame.height, width)
    return frame.reformat(width=size[0], height=size[1], format="yuv420p")


def header(frame_id: str, seq: int, stamp: float | None = None) -> dict[str, Any]:
    """A std_msgs/Header: the stamp is the wall-clock time (now unless given)."""
    now = time.time() if stamp is None else stamp
    secs = int(now)
    return {
        "seq": seq & 0xFFFFFFFF,
        "stamp": {"secs": secs, "nsecs": min(999_999_999, int((now - secs) * 1e9))},
        "frame_id": frame_id,
    }


def image_message(pixels: Pixels, head: dict[str, Any]) -> dict[str, Any]:
    """A sensor_msgs/Image (rgb8, or mono8 for a grey picture)."""
    pixels = np.ascontiguousarray(pixels)
    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else 3
    return {
        "header": head,
        "height": height,
        "width": width,
        "encoding": "mono8" if channels == 1 else "rgb8",
        "is_bigendian": 0,
        "step": width * channels,
        "data": pixels.tobytes(),
    }


def jpeg_of(pixels: Pixels, quality: int = 80) -> bytes:
    """An RGB (or grey) array as a JPEG."""
    return images.jpeg(Picture(pixels, "gray" if pixels.ndim == 2 else "rgb24"), quality)


def compressed_message(jpeg: bytes, head: dict[str, Any], source: str = "rgb8") -> dict[str, Any]:
    """A sensor_msgs/CompressedImage of a JPEG (format as image_transport writes it)."""
    return {"header": head, "format": f"{source}; jpeg compressed bgr8", "data": jpeg}


def to_pixels(frame: av.VideoFrame, width: int | None = None) -> Pixels:
    """An RGB array of a decoded frame, scaled down to ``width`` if given: one libswscale pass
    (scaling and colour conversion together)."""
    w, h = (frame.width, frame.height)
    if width and width < frame.width:
        w, h = scaled_size(frame.width, frame.height, width)
    return np.asarray(frame.reformat(width=w, height=h, format="rgb24").to_ndarray(), np.uint8)
