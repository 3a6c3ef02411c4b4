"""rosweb's own log lines for the UI's log panel: who took and released the control lease (from
the audit), refused motion, e-stops engaged and cleared, deadman stops, drivers who
disconnected, and every warning or error of rosweb's loggers.

A :class:`logging.Handler` on the ``rosweb`` logger keeps the newest ``ROSWEB_EVENT_LOG_SIZE``
records in memory (a bounded deque, oldest dropped), each with a sequence number so a poller
asks only for what is new (``GET /api/log?after=SEQ``). Logging is per process, so there is one
log per process, installed by the first app.
"""

from __future__ import annotations

import collections
import json
import logging
import threading
from typing import Any

__all__ = ["EventLog", "install"]

#: loggers whose INFO lines are events (below WARNING); every rosweb logger's warnings are
EVENT_LOGGERS = ("rosweb.control", "rosweb.audit")
#: audit actions that are events (others only when refused or failed): the lease changing hands
AUDIT_EVENTS = ("acquire", "release")


def _audit_event(record: logging.LogRecord) -> tuple[str, str] | None:
    """(level, text) of an audit line worth showing, or None."""
    try:
        entry = json.loads(record.getMessage())
    except ValueError:
        return None
    action, outcome = entry.get("action"), entry.get("outcome", "ok")
    who = entry.get("user", "?")
    if outcome != "ok":
        reason = f": {entry['reason']}" if entry.get("reason") else ""
        return "warning", f"{who}: {action} {entry.get('target', '')} {outcome}{reason}"
    if action == "acquire":
        return "info", f"{who} took control" + (" (forced)" if entry.get("force") else "")
    if action == "release" and entry.get("released"):
        return "info", f"{who} released control"
    return None


class EventLog(logging.Handler):
    """The newest ``size`` records, numbered."""

    def __init__(self, size: int = 500) -> None:
        super().__init__(logging.INFO)
        self._records: collections.deque[dict[str, Any]] = collections.deque(maxlen=size)
        self._seq = 0
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        level = record.levelname.lower()
        if record.name == "rosweb.audit":
            event = _audit_event(record)
            if event is None:
                return
            level, text = event
        elif record.levelno < logging.WARNING and not record.name.startswith(EVENT_LOGGERS):
            return
        else:
            try:
                text = record.getMessage()
            except Exception:  # a bad format string: say so, never raise into the caller
                text = f"{record.msg!r} {record.args!r}"
        with self._guard:
            self._seq += 1
            self._records.append({"seq": self._seq, "time": round(record.created, 3),
                                  "level": level, "name": record.name, "msg": text})  # fmt: skip

    def since(self, after: int = 0, limit: int = 500) -> tuple[list[dict[str, Any]], int]:
        """Records numbered above ``after`` (the newest ``limit``), and the last number."""
        with self._guard:
            found = [r for r in self._records if r["seq"] > after]
            return found[-limit:], self._seq


_installed: EventLog | None = None
_install_lock = threading.Lock()


def install(size: int) -> EventLog:
    """The process's event log, made and attached to the ``rosweb`` logger on first call."""
    global _installed
    with _install_lock:
        if _installed is None:
            _installed = EventLog(size)
            logging.getLogger("rosweb").addHandler(_installed)
            for name in EVENT_LOGGERS:  # their INFO lines reach the handler
                logger = logging.getLogger(name)
                if not logger.isEnabledFor(logging.INFO):
                    logger.setLevel(logging.INFO)
        return _installed
