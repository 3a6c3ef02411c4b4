"""What both ends of the agent's RPC share: timing constants, the I/O thread's waker, addresses.

The protocol itself is described in :mod:`rosweb.graph.remote.client` (frames, sessions).
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Iterator

from rosweb.errors import ConfigError

__all__ = [
    "CALL_SOCKETS",
    "DATA_BATCH",
    "DATA_BATCH_BYTES",
    "DATA_QUEUE",
    "DEAD_AFTER",
    "DEFAULT_TIMEOUT",
    "FLUSH_BATCH",
    "HEARTBEAT",
    "IDENTITY_SIZE",
    "RECEIVE_ITEMS",
    "SEND_HWM",
    "SESSION_TIMEOUT",
    "Waker",
    "check_address",
    "pack_batch",
    "unpack_batch",
]

HEARTBEAT = 0.25  # seconds between a client's pings
DATA_QUEUE = 10000  # stream items the server holds for its sockets; past that, oldest dropped
FLUSH_BATCH = 2000  # stream items sent per turn of the server's loop
DATA_BATCH = 1000  # stream items to one client in one ZeroMQ message, at most...
DATA_BATCH_BYTES = 256 * 1024  # ...or about this many bytes (one big item goes alone)
SEND_HWM = 1000  # ZeroMQ messages (batches) queued for one client; past that, dropped
RECEIVE_ITEMS = 2000  # stream items a client delivers per turn of its loop (then pings, calls)
DEAD_AFTER = 1.5  # seconds of silence after which a client holds the server for gone
SESSION_TIMEOUT = 3.0  # seconds of silence after which the server forgets a client
DEFAULT_TIMEOUT = 10.0  # seconds a call waits for its reply unless told
IDENTITY_SIZE = 16  # bytes of a client's identity; its call sockets' add a 2-byte number
CALL_SOCKETS = 16  # sockets a client keeps for calls made from their own thread (then: I/O thread)


class Waker:
    """Wakes an I/O thread polling its sockets: any thread may call :meth:`wake`."""

    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self._w.setblocking(False)

    def fileno(self) -> int:
        return self._r.fileno()

    def wake(self) -> None:
        # full: the thread is awake anyway; closed: it is gone
        with contextlib.suppress(BlockingIOError, OSError):
            self._w.send(b"\0")

    def drain(self) -> None:
        try:
            while self._r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def close(self) -> None:
        self._r.close()
        self._w.close()


def check_address(address: str, *, bind: bool = False) -> str:
    """A ZeroMQ address the agent may use: ``ipc://PATH`` or ``tcp://HOST:PORT`` (loopback to
    listen on: the agent has no authentication)."""
    if address.startswith("ipc://") and len(address) > len("ipc://"):
        return address
    if address.startswith("tcp://"):
        host, sep, port = address[len("tcp://") :].rpartition(":")
        if sep and host and port.isdigit():
            if bind and host.strip("[]") not in ("127.0.0.1", "localhost", "::1"):
                raise ConfigError(
                    f"the agent listens on loopback or ipc:// only (it has no authentication), "
                    f"not {address}"
                )
            return address
    raise ConfigError(f"bad agent address {address!r}: expected ipc://PATH or tcp://HOST:PORT")


_ITEM = struct.Struct("!II")  # a batched item's key length, payload length


def pack_batch(items: list[tuple[bytes, bytes]]) -> bytes:
    """Stream items ``(key, payload)`` in one frame: each is its two lengths, key, payload."""
    parts: list[bytes] = []
    for key, payload in items:
        parts += (_ITEM.pack(len(key), len(payload)), key, payload)
    return b"".join(parts)


def unpack_batch(blob: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The items :func:`pack_batch` packed, in order (ValueError at a malformed one)."""
    offset, end = 0, len(blob)
    while offset < end:
        if end - offset < _ITEM.size:
            raise ValueError("a truncated stream batch")
        key_len, payload_len = _ITEM.unpack_from(blob, offset)
        offset += _ITEM.size
        stop = offset + key_len + payload_len
        if stop > end:
            raise ValueError("a truncated stream batch")
        yield blob[offset : offset + key_len], blob[offset + key_len : stop]
        offset = stop
