"""Video on the robot side: camera inputs, ``<topic>/compressed`` siblings, WebRTC.

- :mod:`~rosweb.core.video.frames`: pictures between ROS image messages, arrays and PyAV frames.
- :mod:`~rosweb.core.video.inputs`: ``--input`` sources (V4L2, files, RTSP/HTTP) to topics.
- :mod:`~rosweb.core.video.compressed`: raw image topics republished as JPEG.
- :mod:`~rosweb.core.video.encoder`: one WebRTC video encoder per variant, shared by viewers.
- :mod:`~rosweb.core.video.webrtc`: aiortc sessions (browser viewers, browser cameras).

They need the ``video`` extra (PyAV and aiortc); :func:`missing` says whether it is installed
without importing the modules, so the rest of rosweb works without it.
"""

from __future__ import annotations

import importlib.util

__all__ = ["INSTALL_HINT", "missing"]

INSTALL_HINT = "pip install 'rosweb[video]' (PyAV and aiortc)"


def missing() -> str | None:
    """None when video works here, else what is missing and how to install it."""
    absent = [name for name in ("av", "aiortc") if importlib.util.find_spec(name) is None]
    if absent:
        return f"video needs {' and '.join(absent)}: {INSTALL_HINT}"
    return None
