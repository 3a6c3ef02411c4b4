"""Inbound fragmented messages (rosbridge's ``fragment`` op), reassembled within bounds.

Per session: at most ``max_fragment_ids`` messages pending at once, each at most
``max_message_size`` bytes, dropped ``fragment_timeout`` s after its first fragment (checked at
every fragment). Across every session of the process: at most :data:`TOTAL_LIMIT` bytes pending.
A session frees everything it holds when it closes.
"""

from __future__ import annotations

import threading
import time

from rosweb.core.bridge.fields import BridgeOptions, OpError

__all__ = ["TOTAL_LIMIT", "Fragments"]

#: bytes of pending fragments all sessions of a process may hold together
TOTAL_LIMIT = 256 << 20

_total = 0
_total_lock = threading.Lock()


def _reserve(size: int) -> bool:
    global _total
    with _total_lock:
        if _total + size > TOTAL_LIMIT:
            return False
        _total += size
        return True


def _release(size: int) -> None:
    global _total
    with _total_lock:
        _total -= size


def pending_bytes() -> int:
    """Bytes of fragments every session of this process holds right now."""
    return _total


class _Message:
    __slots__ = ("parts", "size", "started", "total")

    def __init__(self, total: int) -> None:
        self.started = time.monotonic()
        self.total = total
        self.parts: dict[int, str] = {}
        self.size = 0


class Fragments:
    """The fragmented messages of one session."""

    def __init__(self, options: BridgeOptions) -> None:
        self.options = options
        self._messages: dict[str, _Message] = {}
        self._lock = threading.Lock()

    def add(self, fid: str, num: int, total: int, data: str) -> str | None:
        """Keep one fragment; the whole message once its last fragment came (else None)."""
        if not 0 <= num < total:
            raise OpError(f"fragment num {num} is outside 0..{total - 1}", "num")
        with self._lock:
            self._purge(time.monotonic())
            message = self._messages.get(fid)
            if message is None:
                if len(self._messages) >= self.options.max_fragment_ids:
                    raise OpError(
                        f"{len(self._messages)} fragmented messages are pending already "
                        "(finish or abandon one first)", "id",
                    )  # fmt: skip
                message = self._messages[fid] = _Message(total)
            if total != message.total:
                self._drop(fid)
                raise OpError(f"fragment total {total} differs from {message.total} of {fid}",
                              "total")  # fmt: skip
            size = len(data) - len(message.parts.get(num, ""))
            if message.size + size > self.options.max_message_size:
                self._drop(fid)
                raise OpError(f"fragmented message {fid} is larger than the limit", "data")
            if size > 0 and not _reserve(size):
                self._drop(fid)
                raise OpError("the server holds too many pending fragments: retry later", "data")
            if size < 0:
                _release(-size)
            message.parts[num] = data
            message.size += size
            if len(message.parts) < total:
                return None
            self._drop(fid)
        return "".join(message.parts[i] for i in range(total))

    def _drop(self, fid: str) -> None:
        message = self._messages.pop(fid, None)
        if message is not None:
            _release(message.size)

    def _purge(self, now: float) -> None:
        stale = [
            fid
            for fid, m in self._messages.items()
            if now - m.started > self.options.fragment_timeout
        ]
        for fid in stale:
            self._drop(fid)

    def __len__(self) -> int:
        return len(self._messages)

    def clear(self) -> None:
        with self._lock:
            for fid in list(self._messages):
                self._drop(fid)
