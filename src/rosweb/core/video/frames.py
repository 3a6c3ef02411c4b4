"""Pictures between ROS image messages, numpy arrays and PyAV frames: no I/O, no threads.

``sensor_msgs/Image`` (rgb8, bgr8, rgba8, bgra8, mono8, mono16) and ``sensor_msgs/CompressedImage``
(JPEG, PNG) become an RGB (or grey) array, and an array becomes an ``Image`` (rgb8) or a JPEG
``CompressedImage`` with a header (stamp, frame id, seq).
"""

from __future__ import annotations

import io
import time
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from av.video.frame import VideoFrame
from PIL import Image as PILImage

from rosweb.errors import ValidationError

__all__ = [
    "COMPRESSED",
    "IMAGE",
    "IMAGE_TYPES",
    "array_of",
    "compressed_message",
    "header",
    "image_message",
    "jpeg_of",
    "scaled_size",
    "to_pixels",
    "video_frame",
]

IMAGE = "sensor_msgs/Image"
COMPRESSED = "sensor_msgs/CompressedImage"
IMAGE_TYPES = (IMAGE, COMPRESSED)

Pixels = npt.NDArray[np.uint8]

#: encoding -> (numpy item type, channels, order of the colour channels)
_ENCODINGS: dict[str, tuple[str, int, str]] = {
    "rgb8": ("u1", 3, "rgb"),
    "bgr8": ("u1", 3, "bgr"),
    "rgba8": ("u1", 4, "rgb"),
    "bgra8": ("u1", 4, "bgr"),
    "mono8": ("u1", 1, "grey"),
    "mono16": ("u2", 1, "grey"),
}


def _raw_array(msg: dict[str, Any]) -> Pixels:
    encoding = str(msg["encoding"]).lower()
    if encoding not in _ENCODINGS:
        raise ValidationError(
            f"image encoding {msg['encoding']!r} is not one of {list(_ENCODINGS)}", "encoding"
        )
    item_type, channels, order = _ENCODINGS[encoding]
    height, width, step = int(msg["height"]), int(msg["width"]), int(msg["step"])
    item = np.dtype(item_type).newbyteorder(">" if msg["is_bigendian"] else "<")
    data = np.frombuffer(msg["data"], dtype=np.uint8)
    row = width * channels * item.itemsize
    if height <= 0 or width <= 0 or height * step > data.size or row > step:
        raise ValidationError(
            f"image data of {data.size} bytes does not fit {width}x{height} {encoding}", "data"
        )
    rows = data[: height * step].reshape(height, step)[:, :row]
    pixels = np.ascontiguousarray(rows).view(item).reshape(height, width, channels)
    if item.itemsize == 2:  # 16-bit depth or mono: scaled to 8 bits for viewing
        plane = pixels[:, :, 0].astype(np.float32)
        top = float(plane.max()) or 1.0
        return (plane * (255.0 / top)).astype(np.uint8)
    if channels == 1:
        return pixels[:, :, 0]
    if order == "bgr":
        pixels = pixels[:, :, 2::-1]
    return np.ascontiguousarray(pixels[:, :, :3])


def array_of(type_name: str, msg: dict[str, Any]) -> Pixels:
    """The picture of an Image or CompressedImage: (h, w, 3) RGB or (h, w) grey, uint8."""
    if type_name != COMPRESSED:
        return _raw_array(msg)
    try:
        picture: PILImage.Image = PILImage.open(io.BytesIO(bytes(msg["data"])))
        picture.load()
    except (OSError, ValueError) as err:
        raise ValidationError(f"cannot decode the {msg['format']!r} image: {err}", "data") from err
    if picture.mode not in ("RGB", "L"):
        picture = picture.convert("RGB")
    return np.asarray(picture, dtype=np.uint8)


def scaled_size(width: int, height: int, target_width: int | None) -> tuple[int, int]:
    """(width, height) at ``target_width`` (never larger than the source), both even (yuv420p)."""
    if target_width and target_width < width:
        height = max(2, round(height * target_width / width))
        width = target_width
    return max(2, width - width % 2), max(2, height - height % 2)


def video_frame(pixels: Pixels, width: int | None = None) -> VideoFrame:
    """A yuv420p frame of ``pixels``, scaled down to ``width`` if given (even dimensions)."""
    frame = VideoFrame.from_ndarray(pixels, format="gray" if pixels.ndim == 2 else "rgb24")
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
    """The picture as a JPEG."""
    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, "JPEG", quality=quality)
    return out.getvalue()


def compressed_message(jpeg: bytes, head: dict[str, Any], source: str = "rgb8") -> dict[str, Any]:
    """A sensor_msgs/CompressedImage of a JPEG (format as image_transport writes it)."""
    return {"header": head, "format": f"{source}; jpeg compressed bgr8", "data": jpeg}


def to_pixels(frame: av.VideoFrame, width: int | None = None) -> Pixels:
    """An RGB array of a decoded frame, scaled down to ``width`` if given."""
    if width and width < frame.width:
        w, h = scaled_size(frame.width, frame.height, width)
        frame = frame.reformat(width=w, height=h)
    return np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
