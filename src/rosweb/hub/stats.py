"""Rates and bandwidth per topic, counted where messages arrive (the hub), so that nobody has to
download a topic only to learn how fast it goes.

:meth:`TopicStats.record` runs on the middleware thread for every message the hub receives: it
costs a lock and the message's size, which :func:`wire_size` computes from the type's fields
without encoding anything (a ``uint8[]`` is its length, a ``float32[]`` four bytes an element).
The size is the ROS 1 serialized size, what the message weighs on a TCPROS connection.

Each topic keeps the arrivals of the last ``window`` seconds, at most ``max_samples`` of them
(a topic faster than ``max_samples / window`` Hz is measured over its newest samples).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Any

from rosweb.errors import RosWebError
from rosweb.messages import Message, TypeStore

__all__ = ["TopicStats", "wire_size"]

#: ROS 1 serialized sizes of the fixed-size primitives
_FIXED = {
    "bool": 1, "int8": 1, "uint8": 1, "byte": 1, "char": 1, "int16": 2, "uint16": 2,
    "int32": 4, "uint32": 4, "float32": 4, "int64": 8, "uint64": 8, "float64": 8,
    "time": 8, "duration": 8,
}  # fmt: skip

Sizer = Callable[[Any], int]


def _string(value: Any) -> int:
    return 4 + (len(value.encode()) if isinstance(value, str) else len(value or b""))


def _fixed(size: int) -> Sizer:
    return lambda _value: size


def _fixed_array(size: int, prefix: int) -> Sizer:
    # bytes or a list of numbers: no need to look at each element
    return lambda value: prefix + size * len(value or ())


def _array(element: Sizer, prefix: int) -> Sizer:
    return lambda value: prefix + sum(map(element, value or ()))


def _compile(store: TypeStore, type_name: str, cache: dict[str, Sizer]) -> Sizer:
    """A function giving the serialized size of a message of ``type_name``."""
    found = cache.get(type_name)
    if found is not None:
        return found
    parts: list[tuple[str, Sizer]] = []

    def sizer(msg: Any) -> int:
        if not isinstance(msg, dict):
            return 0
        return sum(size(msg.get(name)) for name, size in parts)

    cache[type_name] = sizer  # before the fields: a type may nest itself
    for field in store.fields(type_name):
        fixed = _FIXED.get(field.type)
        prefix = 0 if field.array_length else 4  # a variable-length array starts with its length
        if fixed is not None:
            scalar = _fixed(fixed)
            parts.append((field.name, scalar if field.array_length is None else
                          _fixed_array(fixed, prefix)))  # fmt: skip
            continue
        element = _string if field.type == "string" else _compile(store, field.type, cache)
        parts.append((field.name, element if field.array_length is None else
                      _array(element, prefix)))  # fmt: skip
    return sizer


def wire_size(store: TypeStore, type_name: str, msg: Message,
              cache: dict[str, Sizer] | None = None) -> int:  # fmt: skip
    """The ROS 1 serialized size of ``msg`` in bytes (0 for a type ``store`` does not know)."""
    try:
        return _compile(store, type_name, {} if cache is None else cache)(msg)
    except RosWebError:
        return 0


def _unsized(_msg: Message) -> int:
    return 0


class _Topic:
    __slots__ = ("bytes", "count", "last", "lock", "samples", "type")

    def __init__(self, type_name: str, max_samples: int) -> None:
        self.type = type_name
        self.count = 0
        self.bytes = 0
        self.last = 0.0  # wall-clock time of the last message
        self.samples: collections.deque[tuple[float, int]] = collections.deque(maxlen=max_samples)
        self.lock = threading.Lock()


class TopicStats:
    """Per topic: messages and bytes received, rate (Hz) and bandwidth (B/s) over ``window``."""

    def __init__(self, types: TypeStore, *, window: float = 5.0, max_samples: int = 1000) -> None:
        self.types = types
        self.window = window
        self.max_samples = max_samples
        self._topics: dict[str, _Topic] = {}
        self._sizers: dict[str, Sizer] = {}
        self._lock = threading.Lock()

    def record(self, topic: str, type_name: str, msg: Message) -> None:
        """Count one message of ``topic`` (called on the middleware thread: never blocks long)."""
        entry = self._topics.get(topic)
        if entry is None or entry.type != type_name:
            with self._lock:
                entry = self._topics[topic] = _Topic(type_name, self.max_samples)
        sizer = self._sizers.get(type_name)
        if sizer is None and not type_name:  # a first message before its subscription returned
            sizer = _unsized
        if sizer is None:  # compiled once per type, into a copy swapped in when complete
            with self._lock:
                sizers = dict(self._sizers)
                try:
                    sizer = _compile(self.types, type_name, sizers)
                except RosWebError:
                    sizer = sizers[type_name] = lambda _msg: 0
                self._sizers = sizers
        size = sizer(msg)
        now = time.monotonic()
        with entry.lock:
            entry.count += 1
            entry.bytes += size
            entry.last = time.time()
            entry.samples.append((now, size))

    def topic(self, topic: str) -> dict[str, Any] | None:
        """One topic's figures, or None if no message of it was counted."""
        entry = self._topics.get(topic)
        return None if entry is None else self._report(entry, time.monotonic())

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every counted topic's figures: ``type``, ``count``, ``bytes`` (since it was first
        seen), ``rate`` (Hz) and ``bandwidth`` (B/s) now, ``size`` (mean bytes a message over the
        window), ``last`` (wall-clock time of the last message)."""
        now = time.monotonic()
        with self._lock:
            entries = list(self._topics.items())
        return {topic: self._report(entry, now) for topic, entry in sorted(entries)}

    def _report(self, entry: _Topic, now: float) -> dict[str, Any]:
        with entry.lock:
            while entry.samples and now - entry.samples[0][0] > self.window:
                entry.samples.popleft()
            samples = list(entry.samples)
            count, total, last = entry.count, entry.bytes, entry.last
        rate = bandwidth = 0.0
        size = 0
        if samples:
            size = round(sum(s for _, s in samples) / len(samples))
        if len(samples) >= 2:
            span = samples[-1][0] - samples[0][0]
            interval = span / (len(samples) - 1)
            quiet = now - samples[-1][0]
            if span > 0 and quiet <= max(3 * interval, 1.5):  # not gone quiet
                rate = (len(samples) - 1) / span
                bandwidth = sum(s for _, s in samples[1:]) / span
        return {"type": entry.type, "count": count, "bytes": total, "rate": round(rate, 3),
                "bandwidth": round(bandwidth, 1), "size": size, "last": round(last, 3)}  # fmt: skip
