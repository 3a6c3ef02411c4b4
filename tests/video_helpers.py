"""Test videos: a moving pattern with its frame counter drawn in, and reading the counter back.

The counter is drawn twice: as digits (for people looking at a screenshot) and as 16 black or
white blocks across the top of the picture (for programs: they survive any codec at any
reasonable bitrate), most significant bit first.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image, ImageDraw

BITS = 16
BAND = 0.1  # the height of the block band, as a share of the picture's


def pattern(n: int, width: int = 320, height: int = 240) -> np.ndarray[Any, Any]:
    """Frame ``n``: a gradient and a square moving with ``n``, the counter on top (RGB)."""
    y, x = np.mgrid[0:height, 0:width]
    picture = np.empty((height, width, 3), dtype=np.uint8)
    picture[..., 0] = (x + 4 * n) % 256
    picture[..., 1] = (y + 2 * n) % 256
    picture[..., 2] = 128
    side = height // 4
    left = (8 * n) % max(1, width - side)
    picture[height // 2 : height // 2 + side, left : left + side] = (255, 255, 0)
    band = max(8, int(height * BAND))
    block = width // BITS
    for bit in range(BITS):
        value = 255 if (n >> (BITS - 1 - bit)) & 1 else 0
        picture[:band, bit * block : (bit + 1) * block] = value
    image = Image.fromarray(picture)
    ImageDraw.Draw(image).text((8, band + 6), f"frame {n}", fill=(255, 255, 255))
    return np.asarray(image)


def counter(picture: np.ndarray[Any, Any]) -> int:
    """The counter drawn in ``picture`` (RGB or grey, any size the pattern was scaled to)."""
    grey = picture.mean(axis=2) if picture.ndim == 3 else picture
    height, width = grey.shape
    band = max(2, int(height * BAND))
    block = width / BITS
    value = 0
    for bit in range(BITS):
        centre = grey[
            band // 4 : band * 3 // 4, int((bit + 0.3) * block) : int((bit + 0.7) * block)
        ]
        value = (value << 1) | int(centre.mean() > 128)
    return value


def make_video(
    path: Path, frames: int = 60, fps: int = 30, width: int = 320, height: int = 240
) -> Path:
    """An H.264 MP4 of the pattern (frames 0..frames-1) at ``fps``."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps, 1))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "18"}
        for n in range(frames):
            frame = av.VideoFrame.from_ndarray(pattern(n, width, height), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
