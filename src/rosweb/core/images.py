"""Pictures of image messages: the one reading of sensor_msgs/Image and CompressedImage.

Every viewer of a camera reads its messages here: the MJPEG encoders (:mod:`rosweb.core.camera`),
the WebRTC encoders, the ``<topic>/compressed`` siblings and the fleet's snapshots
(:mod:`rosweb.core.video.frames`). :func:`picture` makes no copy of a raw image that is already
laid out as its encoding says (the array is a view of the message's bytes) and never reorders
its channels: a :class:`Picture` says its pixel layout in FFmpeg's names (``rgb24``, ``bgr24``,
``rgba``, ``bgra``, ``gray``), so libswscale converts a BGR camera to yuv420p in the one pass it
makes anyway, and Pillow reads it with the matching raw mode. Numpy and Pillow only: no PyAV.
Both are imported at the first picture made: a robot nobody watches a camera of does not hold
them (numpy is 16 MB of a process).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, NamedTuple

from rosweb.errors import RosWebError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL import Image

    Pixels = npt.NDArray[np.uint8]

__all__ = [
    "COMPRESSED",
    "IMAGE",
    "IMAGE_TYPES",
    "ImageError",
    "Picture",
    "image_kind",
    "jpeg",
    "jpeg_passthrough",
    "picture",
    "to_pil",
    "to_rgb",
]

IMAGE = "sensor_msgs/Image"
COMPRESSED = "sensor_msgs/CompressedImage"
IMAGE_TYPES = (IMAGE, COMPRESSED)


class ImageError(RosWebError):
    """A message that cannot be shown as an image."""


def image_kind(type_name: str) -> str | None:
    """``sensor_msgs/Image`` or ``sensor_msgs/CompressedImage`` for an image type in any form
    (ROS 2 says ``sensor_msgs/msg/Image``); None for another type."""
    short = type_name.replace("/msg/", "/")
    return short if short in IMAGE_TYPES else None


class Picture(NamedTuple):
    """An (h, w, channels) or (h, w) uint8 array and its layout (FFmpeg's pixel format name)."""

    pixels: Pixels
    layout: str  # rgb24, bgr24, rgba, bgra, gray

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


#: sensor_msgs/Image encoding -> (numpy item type, channels, layout of the 8-bit picture)
_ENCODINGS: dict[str, tuple[str, int, str]] = {
    "rgb8": ("u1", 3, "rgb24"),
    "bgr8": ("u1", 3, "bgr24"),
    "rgba8": ("u1", 4, "rgba"),
    "bgra8": ("u1", 4, "bgra"),
    "mono8": ("u1", 1, "gray"),
    "mono16": ("u2", 1, "gray"),
}
#: layout -> (Pillow mode, Pillow raw mode) to read it without a copy in numpy
_PIL_MODES = {
    "rgb24": ("RGB", "RGB"),
    "bgr24": ("RGB", "BGR"),
    "rgba": ("RGBA", "RGBA"),
    "bgra": ("RGBA", "BGRA"),
    "gray": ("L", "L"),
}


def _raw(msg: dict[str, Any]) -> Picture:
    import numpy as np

    encoding = str(msg["encoding"]).lower()
    if encoding not in _ENCODINGS:
        raise ImageError(f"image encoding {msg['encoding']!r} is not one of {list(_ENCODINGS)}")
    item_type, channels, layout = _ENCODINGS[encoding]
    height, width, step = int(msg["height"]), int(msg["width"]), int(msg["step"])
    item = np.dtype(item_type).newbyteorder(">" if msg["is_bigendian"] else "<")
    data = np.frombuffer(msg["data"], dtype=np.uint8)
    row = width * channels * item.itemsize
    if height <= 0 or width <= 0 or height * step > data.size or row > step:
        raise ImageError(
            f"image data of {data.size} bytes does not fit {width}x{height} {encoding}"
        )
    rows = data[: height * step].reshape(height, step)[:, :row]
    # a view when the rows have no padding (step == row), the common case: no copy
    pixels = np.ascontiguousarray(rows).view(item).reshape(height, width, channels)
    if item.itemsize == 2:  # 16-bit depth or mono: scaled to 8 bits for viewing
        plane = pixels[:, :, 0].astype(np.float32)
        top = float(plane.max()) or 1.0
        return Picture((plane * (255.0 / top)).astype(np.uint8), layout)
    if channels == 1:
        return Picture(pixels[:, :, 0], layout)
    return Picture(pixels, layout)


def _decoded(msg: dict[str, Any]) -> Image.Image:
    from PIL import Image

    try:
        image: Image.Image = Image.open(io.BytesIO(bytes(msg["data"])))
        image.load()
    except (OSError, ValueError) as err:
        raise ImageError(f"cannot decode the {msg.get('format')!r} image: {err}") from err
    return image if image.mode in ("RGB", "L") else image.convert("RGB")


def picture(type_name: str, msg: dict[str, Any]) -> Picture:
    """The picture of an Image or CompressedImage message (any type form); ImageError when the
    message cannot be one (an unknown encoding, too little data, an undecodable JPEG/PNG)."""
    if image_kind(type_name) != COMPRESSED:
        return _raw(msg)
    import numpy as np

    image = _decoded(msg)
    return Picture(np.asarray(image, dtype=np.uint8), "gray" if image.mode == "L" else "rgb24")


def to_rgb(pic: Picture) -> Pixels:
    """(h, w, 3) RGB, or (h, w) grey: the channels reordered (a copy only when they must be)."""
    import numpy as np

    pixels, layout = pic
    if layout == "gray" or layout == "rgb24":
        return pixels
    if layout == "rgba":
        return np.ascontiguousarray(pixels[:, :, :3])
    return np.ascontiguousarray(pixels[:, :, 2::-1])  # bgr24, bgra


def to_pil(pic: Picture) -> Image.Image:
    """A Pillow image (RGB or L) of ``pic``: Pillow reorders the channels as it reads them."""
    import numpy as np
    from PIL import Image

    pixels, layout = pic
    mode, raw = _PIL_MODES[layout]
    pixels = np.ascontiguousarray(pixels)
    size = (pixels.shape[1], pixels.shape[0])
    image = Image.frombuffer(mode, size, pixels, "raw", raw, 0, 1)
    return image.convert("RGB") if mode == "RGBA" else image


def jpeg(pic: Picture, quality: int = 80, width: int | None = None) -> bytes:
    """``pic`` as a JPEG, scaled to ``width`` (keeping its aspect) if given."""
    from PIL import Image

    image = to_pil(pic)
    if width is not None and width != image.width:
        height = max(1, round(image.height * width / image.width))
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def jpeg_passthrough(type_name: str, msg: dict[str, Any]) -> bytes | None:
    """The JPEG of a CompressedImage that holds one already (served untouched), else None."""
    if image_kind(type_name) != COMPRESSED:
        return None
    data = bytes(msg["data"])
    return data if data[:3] == b"\xff\xd8\xff" else None
