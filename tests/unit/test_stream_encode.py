"""Camera frames to JPEG: every supported encoding, pass-through, resize, bad input."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from rosweb.core.camera import ImageError, encode_jpeg
from rosweb.messages import TypeStore, from_json

STORE = TypeStore()
RED, BLUE = (230, 20, 20), (20, 20, 230)


def image_msg(encoding: str, pixels: np.ndarray, bigendian: bool = False) -> dict:  # type: ignore[type-arg]
    height, width = pixels.shape[:2]
    data = pixels.astype(pixels.dtype.newbyteorder(">" if bigendian else "<")).tobytes()
    return from_json(STORE, "sensor_msgs/Image", {
        "height": height, "width": width, "encoding": encoding, "is_bigendian": int(bigendian),
        "step": len(data) // height, "data": data,
    })  # fmt: skip


def left_red_right_blue(channels: list[int]) -> np.ndarray:  # type: ignore[type-arg]
    pixels = np.zeros((24, 32, len(channels)), np.uint8)
    pixels[:, :16] = [RED[c] if c < 3 else 255 for c in channels]
    pixels[:, 16:] = [BLUE[c] if c < 3 else 255 for c in channels]
    return pixels


def decoded(jpeg: bytes) -> np.ndarray:  # type: ignore[type-arg]
    assert jpeg[:3] == b"\xff\xd8\xff"
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")).astype(int)


@pytest.mark.parametrize(
    ("encoding", "channels"),
    [("rgb8", [0, 1, 2]), ("bgr8", [2, 1, 0]), ("rgba8", [0, 1, 2, 3]), ("bgra8", [2, 1, 0, 3])],
)
def test_colour_encodings_keep_their_colours(encoding: str, channels: list[int]) -> None:
    rgb = decoded(
        encode_jpeg(
            "sensor_msgs/Image", image_msg(encoding, left_red_right_blue(channels)), 90, None
        )
    )
    assert np.abs(rgb[12, 4] - RED).max() < 25
    assert np.abs(rgb[12, 28] - BLUE).max() < 25


@pytest.mark.parametrize("bigendian", [False, True])
def test_mono_encodings(bigendian: bool) -> None:
    ramp8 = np.tile(np.linspace(0, 255, 32, dtype=np.uint8), (24, 1))[:, :, None]
    gray = decoded(encode_jpeg("sensor_msgs/Image", image_msg("mono8", ramp8), 90, None))
    assert gray[5, 0, 0] < 20
    assert gray[5, 31, 0] > 235
    depth = np.tile(np.linspace(0, 4000, 32).astype(np.uint16), (24, 1))[:, :, None]
    scaled = decoded(
        encode_jpeg("sensor_msgs/Image", image_msg("mono16", depth, bigendian), 90, None)
    )
    assert scaled[5, 0, 0] < 20
    assert scaled[5, 31, 0] > 235


def test_resize_keeps_the_aspect() -> None:
    msg = image_msg("rgb8", left_red_right_blue([0, 1, 2]))
    small = Image.open(io.BytesIO(encode_jpeg("sensor_msgs/Image", msg, 80, 16)))
    assert small.size == (16, 12)


def test_compressed_jpeg_passes_through_unless_resized() -> None:
    source = io.BytesIO()
    Image.new("RGB", (40, 30), RED).save(source, "JPEG", quality=70)
    msg = from_json(
        STORE, "sensor_msgs/CompressedImage", {"format": "jpeg", "data": source.getvalue()}
    )
    assert encode_jpeg("sensor_msgs/CompressedImage", msg, 80, None) == source.getvalue()
    resized = encode_jpeg("sensor_msgs/CompressedImage", msg, 80, 20)
    assert Image.open(io.BytesIO(resized)).size == (20, 15)
    png = io.BytesIO()
    Image.new("RGB", (8, 8), BLUE).save(png, "PNG")
    as_png = from_json(
        STORE, "sensor_msgs/CompressedImage", {"format": "png", "data": png.getvalue()}
    )
    assert (
        np.abs(
            decoded(encode_jpeg("sensor_msgs/CompressedImage", as_png, 90, None))[4, 4] - BLUE
        ).max()
        < 25
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"encoding": "bayer_rggb8"}, "encoding"),
        ({"data": b"\x00" * 10}, "does not fit"),
        ({"step": 5}, "does not fit"),
    ],
)
def test_bad_images_are_clear_errors(change: dict, message: str) -> None:  # type: ignore[type-arg]
    msg = image_msg("rgb8", left_red_right_blue([0, 1, 2])) | change
    with pytest.raises(ImageError, match=message):
        encode_jpeg("sensor_msgs/Image", msg, 80, None)
    garbage = from_json(STORE, "sensor_msgs/CompressedImage", {"format": "jpeg", "data": b"nope"})
    with pytest.raises(ImageError, match="cannot decode"):
        encode_jpeg("sensor_msgs/CompressedImage", garbage, 80, None)
