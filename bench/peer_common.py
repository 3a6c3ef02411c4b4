"""What both benchmark peers share (stdlib only: it runs under rospy's Python and the venv's)."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
import time
from typing import Any


def die_with_parent() -> None:
    """SIGTERM this process when the orchestrator goes away, however it goes."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:
        sys.exit(1)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def write_out(path: str | None, result: dict[str, Any]) -> None:
    if path:
        with open(path, "w") as f:
            json.dump(result, f)


def payload(tag: str, seq: int, size: int) -> str:
    """``TAG|SEQ|send time|padding``: receivers compute latency from the send time."""
    head = f"{tag}|{seq}|{time.time():.6f}|"
    return head + "x" * max(0, size - len(head))
