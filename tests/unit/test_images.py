"""The one reading of image messages, shared by MJPEG and WebRTC: colours, layouts, no copies."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from rosweb.core import images
from rosweb.core.images import ImageError

RED, BLUE = (230, 20, 20), (20, 20, 230)


def image_msg(encoding: str, pixels: np.ndarray) -> dict:  # type: ignore[type-arg]
    height, width = pixels.shape[:2]
    data = pixels.tobytes()
    return {"height": height, "width": width, "encoding": encoding, "is_bigendian": 0,
            "step": len(data) // height, "data": data}  # fmt: skip


def left_red_right_blue(channels: list[int]) -> np.ndarray:  # type: ignore[type-arg]
    pixels = np.zeros((24, 32, len(channels)), np.uint8)
    pixels[:, :16] = [RED[c] if c < 3 else 255 for c in channels]
    pixels[:, 16:] = [BLUE[c] if c < 3 else 255 for c in channels]
    return pixels


CASES = [("rgb8", [0, 1, 2]), ("bgr8", [2, 1, 0]), ("rgba8", [0, 1, 2, 3]), ("bgra8", [2, 1, 0, 3])]


@pytest.mark.parametrize(("encoding", "channels"), CASES)
def test_every_colour_layout_reads_the_same_to_rgb_jpeg_and_video(
    encoding: str, channels: list[int]
) -> None:
    msg = image_msg(encoding, left_red_right_blue(channels))
    picture = images.picture("sensor_msgs/Image", msg)
    rgb = images.to_rgb(picture)
    assert tuple(rgb[12, 4]) == RED
    assert tuple(rgb[12, 28]) == BLUE
    jpeg = np.asarray(Image.open(io.BytesIO(images.jpeg(picture, 95))).convert("RGB")).astype(int)
    assert np.abs(jpeg[12, 4] - RED).max() < 25
    assert np.abs(jpeg[12, 28] - BLUE).max() < 25
    pytest.importorskip("av")
    from rosweb.core.video import frames

    frame = frames.video_frame(picture)  # libswscale reads the layout: no reordering first
    assert (frame.format.name, frame.width, frame.height) == ("yuv420p", 32, 24)
    back = frame.to_ndarray(format="rgb24").astype(int)
    assert np.abs(back[12, 4] - RED).max() < 30
    assert np.abs(back[12, 28] - BLUE).max() < 30


def test_a_raw_image_is_read_without_a_copy() -> None:
    msg = image_msg("bgr8", left_red_right_blue([2, 1, 0]))
    picture = images.picture("sensor_msgs/Image", msg)
    assert picture.layout == "bgr24"
    assert np.shares_memory(picture.pixels, np.frombuffer(msg["data"], np.uint8))


def test_ros2_type_names_and_compressed_images() -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), BLUE).save(out, "PNG")
    msg = {"format": "png", "data": out.getvalue()}
    for type_name in ("sensor_msgs/CompressedImage", "sensor_msgs/msg/CompressedImage"):
        picture = images.picture(type_name, msg)
        assert (picture.layout, picture.width, picture.height) == ("rgb24", 8, 6)
        assert tuple(picture.pixels[3, 3]) == BLUE
    assert images.jpeg_passthrough("sensor_msgs/msg/CompressedImage", msg) is None
    assert images.image_kind("sensor_msgs/msg/Image") == "sensor_msgs/Image"
    assert images.image_kind("std_msgs/String") is None


def test_bad_images_are_clear_errors() -> None:
    msg = image_msg("rgb8", left_red_right_blue([0, 1, 2]))
    with pytest.raises(ImageError, match="not one of"):
        images.picture("sensor_msgs/Image", msg | {"encoding": "yuv422"})
    with pytest.raises(ImageError, match="does not fit"):
        images.picture("sensor_msgs/Image", msg | {"height": 0})
    with pytest.raises(ImageError, match="cannot decode"):
        images.picture("sensor_msgs/CompressedImage", {"format": "jpeg", "data": b"nope"})
