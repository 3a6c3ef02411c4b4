"""The control lease: one operator drives at a time.

An operator is a user and, optionally, one of their clients (a browser tab, a script), so two tabs
of one user are two operators. Motion acquires a free lease implicitly; the holder's activity
renews it; it expires ``ttl`` seconds after the holder's last activity. Anyone else is refused
with :class:`~rosweb.errors.LeaseHeld` naming the holder, unless forced (an admin taking over).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from rosweb.errors import LeaseHeld

__all__ = ["Lease", "Operator"]


@dataclass(frozen=True)
class Operator:
    """Who acts: a user name and, optionally, which of their clients."""

    user: str
    client: str = ""

    @property
    def key(self) -> str:
        return f"{self.user}/{self.client}" if self.client else self.user

    def __str__(self) -> str:
        return self.key


class Lease:
    """Who may drive, now. Thread-safe; time from :func:`time.monotonic`."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._holder: Operator | None = None
        self._since = 0.0  # wall clock, for people
        self._renewed = 0.0  # monotonic

    def _current(self) -> Operator | None:
        if self._holder is not None and time.monotonic() - self._renewed > self.ttl:
            self._holder = None
        return self._holder

    @property
    def holder(self) -> Operator | None:
        with self._lock:
            return self._current()

    def acquire(self, who: Operator, *, force: bool = False) -> Operator | None:
        """Take (or renew) the lease; returns the operator it was taken from, if any.

        Raises LeaseHeld if someone else holds it and ``force`` is false."""
        with self._lock:
            holder = self._current()
            if holder is not None and holder != who and not force:
                age = time.time() - self._since
                raise LeaseHeld(
                    f"{holder.user} is driving (for {age:.0f} s); ask them to release it "
                    f"(DELETE /api/control), wait {self.ttl:.0f} s after their last command, or "
                    'have an admin take it over (POST /api/control {"force": true}) or release '
                    "it (DELETE /api/control?force=true)",
                    holder.key,
                )
            if holder != who:
                self._since = time.time()
            self._holder = who
            self._renewed = time.monotonic()
            return holder if holder != who else None

    def release(self, who: Operator, *, force: bool = False) -> bool:
        """Give the lease back; False if ``who`` did not hold it (and did not force)."""
        with self._lock:
            holder = self._current()
            if holder is None or (holder != who and not force):
                return False
            self._holder = None
            return True

    def holds(self, who: Operator) -> bool:
        with self._lock:
            return self._current() == who

    def state(self) -> dict[str, Any]:
        """The lease as people read it: holder, since when, seconds left."""
        with self._lock:
            holder = self._current()
            if holder is None:
                return {"holder": None, "user": None, "since": None, "expires_in": None}
            left = self.ttl - (time.monotonic() - self._renewed)
            return {
                "holder": holder.key,
                "user": holder.user,
                "since": round(self._since, 3),
                "expires_in": round(max(left, 0.0), 3),
            }
