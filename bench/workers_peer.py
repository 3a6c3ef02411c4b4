"""The client processes of bench_workers.py: MJPEG viewers and lean rosbridge subscribers, many
connections per process, each writing its figures when its stdin closes.

    python bench/workers_peer.py --view PORT COUNT OUT
    python bench/workers_peer.py --ws PORT COUNT QUEUE_LENGTH OUT
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from peer_common import die_with_parent, say, write_out
from ws_peer import Stdin

IMAGE_TOPIC = "/bench_image"
FAN_TOPIC = "/bench_fan"


# -- the viewers' process -------------------------------------------------------------------


async def view_all(port: int, count: int, out: str) -> None:
    """``count`` MJPEG viewers (HTTP/1.0, so no chunking): each frame's arrival time."""
    stdin = Stdin()
    times: list[list[float]] = [[] for _ in range(count)]
    total = [0, 0]  # frames, bytes

    async def view(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET /stream{IMAGE_TOPIC}.mjpg HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        await writer.drain()
        buf = bytearray()
        started = False
        while chunk := await reader.read(1 << 18):
            buf += chunk
            while (end := buf.find(b"\r\n\r\n")) >= 0:
                at = buf.find(b"Content-Length:", 0, end)
                if at < 0 or not started:  # the HTTP response's head
                    if not started and b" 200 " not in buf[: buf.find(b"\r\n")]:
                        raise RuntimeError(bytes(buf[:300]).decode(errors="replace"))
                    started = True
                    del buf[: end + 4]
                    continue
                length = int(buf[at + 15 : buf.find(b"\r\n", at)])
                if len(buf) < end + 4 + length:
                    break
                times[index].append(time.time())
                total[0] += 1
                total[1] += length
                del buf[: end + 4 + length]

    tasks = [asyncio.create_task(view(i)) for i in range(count)]
    await asyncio.sleep(0.5)
    say("READY")
    await stdin.eof.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    errors = [str(t.exception()) for t in tasks if not t.cancelled() and t.exception()]
    write_out(out, {"times": times, "frames": total[0], "bytes": total[1], "errors": errors[:5]})


class Subscriber(asyncio.Protocol):
    """A lean rosbridge subscriber (bench/ws_peer.py's cost per frame, about 60 us in Python's
    websockets, would make the clients the bottleneck): the handshake and frame parsing by
    hand, the tag and send time read from each String (``TAG|SEQ|TIME|padding``)."""

    def __init__(self, port: int, subscribe: bytes, stats: dict[str, Any]) -> None:
        self.request = (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n").encode()  # fmt: skip
        self.subscribe, self.stats = subscribe, stats
        self.buf = bytearray()
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def send(self, opcode: int, payload: bytes) -> None:  # masked with a zero key
        n = len(payload)
        head = bytes([0x80 | opcode, 0x80 | n]) if n < 126 else bytes([0x80 | opcode, 0xFE])
        head += n.to_bytes(2, "big") if n >= 126 else b""
        assert self.transport is not None
        self.transport.write(head + b"\0\0\0\0" + payload)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.opened.done():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if b" 101 " not in buf[: buf.find(b"\r\n")]:
                self.opened.set_exception(RuntimeError(bytes(buf[:300]).decode("replace")))
                return
            del buf[: end + 4]
            self.send(1, self.subscribe)
            self.opened.set_result(None)
        pos, n, stats = 0, len(buf), self.stats
        tags = stats["tags"]
        while n - pos >= 2:
            length, head = buf[pos + 1] & 0x7F, 2
            if length >= 126:
                head = 4 if length == 126 else 10
                if n - pos < head:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + head], "big")
            start, end = pos + head, pos + head + length
            if end > n:
                break
            opcode = buf[pos] & 0x0F
            i = buf.find(b'"data":"', start, min(end, start + 200)) if opcode == 1 else -1
            if i >= 0:
                j = buf.find(b"|", i + 8, end)
                k = buf.find(b"|", j + 1, end)
                m = buf.find(b"|", k + 1, end)
                tag = buf[i + 8 : j].decode()
                entry = tags.get(tag) or tags.setdefault(tag, {"count": 0, "latency": []})
                entry["count"] += 1
                entry["last"] = now = time.time()
                entry["latency"].append(now - float(buf[k + 1 : m]))
                stats["last"] = time.time()
            elif opcode == 9:
                self.send(10, bytes(buf[start:end]))
            elif opcode != 10:
                stats["status_count"] += 1
            pos = end
        del buf[:pos]


async def subscribe_all(port: int, count: int, queue_length: int, out: str) -> None:
    stdin = Stdin()
    loop = asyncio.get_running_loop()
    stats: dict[str, Any] = {"tags": {}, "status_count": 0, "last": 0.0}
    subscribe = (b'{"op":"subscribe","topic":"%s","type":"std_msgs/String",'
                 b'"queue_length":%d}' % (FAN_TOPIC.encode(), queue_length))  # fmt: skip
    clients = []
    for _ in range(count):
        make = lambda: Subscriber(port, subscribe, stats)  # noqa: E731
        _, client = await loop.create_connection(make, "127.0.0.1", port)
        await asyncio.wait_for(client.opened, 30)
        clients.append(client)
    say("READY")
    await stdin.eof.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and time.time() - stats["last"] < 1.0:
        await asyncio.sleep(0.1)  # drained: nothing for 1 s
    stats["tags"].pop("w", None)
    write_out(out, stats)
    for client in clients:
        if client.transport is not None:
            client.transport.close()


def main() -> None:
    die_with_parent()
    port, count, out = int(sys.argv[2]), int(sys.argv[3]), sys.argv[-1]
    if sys.argv[1] == "--view":
        asyncio.run(view_all(port, count, out))
    else:
        asyncio.run(subscribe_all(port, count, int(sys.argv[4]), out))


if __name__ == "__main__":
    main()
