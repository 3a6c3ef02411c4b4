"""The audit log: who published, called, changed or drove what, one JSON object per line.

Written to ``ROSWEB_AUDIT_LOG`` (rotated at ``ROSWEB_AUDIT_LOG_MAX_BYTES``, keeping
``ROSWEB_AUDIT_LOG_BACKUPS`` files) and to the ``rosweb.audit`` logger. A stream of identical
actions (a teleop key held at 10 Hz, a script publishing at 100 Hz) makes one line per second:
the first, then one with ``repeats`` counting what was folded into it.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import threading
import time
from typing import Any

__all__ = ["Audit"]

log = logging.getLogger("rosweb.audit")


class Audit:
    """Records actions; ``window`` seconds fold identical ones."""

    def __init__(
        self, path: str = "", *, max_bytes: int = 10 << 20, backups: int = 5, window: float = 1.0
    ) -> None:
        self.window = window
        self._lock = threading.Lock()
        self._recent: dict[tuple[str, ...], list[float]] = {}  # key -> [last written, folded]
        self._file: logging.Logger | None = None
        if path:
            handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
            )
            handler.setFormatter(logging.Formatter("%(message)s"))
            self._file = logging.Logger(f"rosweb.audit.file:{path}")
            self._file.addHandler(handler)
            self._file.propagate = False

    def record(
        self, who: dict[str, Any], action: str, target: str, outcome: str = "ok", **detail: Any
    ) -> None:
        """Record ``who`` (user, role, client, remote) doing ``action`` on ``target``."""
        key = (str(who.get("user")), str(who.get("client")), action, target, outcome)
        now = time.monotonic()
        with self._lock:
            seen = self._recent.get(key)
            if seen is not None and now - seen[0] < self.window:
                seen[1] += 1
                return
            repeats = int(seen[1]) if seen is not None else 0
            self._recent[key] = [now, 0]
            if len(self._recent) > 10_000:  # forget the oldest half
                for old in sorted(self._recent, key=lambda k: self._recent[k][0])[:5000]:
                    del self._recent[old]
        entry = {
            "time": round(time.time(), 3),
            **who,
            "action": action,
            "target": target,
            "outcome": outcome,
            **detail,
        }
        if repeats:
            entry["repeats"] = repeats
        line = json.dumps(entry, default=str, separators=(",", ":"))
        log.info("%s", line)
        if self._file is not None:
            self._file.info("%s", line)

    def close(self) -> None:
        if self._file is not None:
            for handler in self._file.handlers:
                handler.close()
