"""Floods of rosbridge ``fragment`` frames (#12.3), on both transports: the pending fragments
of a session are bounded (16 ids, 64 MiB a message, 256 MiB a process), counted in the
WebSocket rate limit, and freed when the session closes, without waiting for a garbage
collection (a flood of 800 x 1 MiB added 803 MB to one session, and three flood-and-close
cycles took the server from 363 to 963 MB)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import websocket

from helpers import wait_for
from reliability.procs import Figures, Served

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

MIB = "x" * (1 << 20)
HALF = MIB[: 1 << 19]


class Flooder:
    """A rosbridge client sending fragments that never complete, reading every reply."""

    def __init__(self, server: Served) -> None:
        self.ws = websocket.create_connection(server.ws, timeout=30)
        self.replies: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                self.replies.append(json.loads(self.ws.recv()))
            except (websocket.WebSocketException, OSError, ValueError):
                return

    def fragment(self, fid: str, num: int = 0, total: int = 2, data: str = MIB) -> None:
        self.ws.send(json.dumps({"op": "fragment", "id": fid, "num": num, "total": total,
                                 "data": data}))  # fmt: skip

    def sync(self, mark: str) -> None:
        """Wait until the server has handled everything sent before (ops run in order)."""
        self.ws.send(json.dumps({"op": "call_service", "service": "/rosapi/topics", "id": mark}))
        wait_for(lambda: any(r.get("id") == mark for r in self.replies), timeout=60)

    def errors(self, text: str) -> int:
        return sum(1 for r in self.replies if r.get("op") == "status" and text in r["msg"])

    def close(self) -> None:
        self.ws.close()
        self._reader.join(timeout=10)


@pytest.fixture(scope="module", params=["rosweb", "flask"])
def server(request: pytest.FixtureRequest, module_servers: Callable[..., Served]) -> Served:
    return module_servers(kind=request.param)


def test_a_flood_of_fragment_ids_is_bounded_and_freed_on_close(server: Served) -> None:
    """The issue's flood: 100 never-finished fragmented messages of 512 KiB per session, three
    sessions one after the other. A session holds 16 pending messages at most (the others are
    refused with a status naming the id), and what one session held is gone when it closes."""
    samples: list[Figures] = [server.figures()]
    for cycle in range(3):
        flooder = Flooder(server)
        try:
            for i in range(100):
                flooder.fragment(f"c{cycle}-n{i}", data=HALF)
            flooder.sync(f"sync{cycle}")
            held = server.figures()
            assert flooder.errors("pending already") == 100 - 16, flooder.replies[-3:]
            refused = [r["id"] for r in flooder.replies if r.get("op") == "status"]
            assert refused[0] == f"c{cycle}-n16"
        finally:
            flooder.close()
        assert held.rss - samples[0].rss < 8 + 40, (samples[0], held)  # 8 MiB and slack
        samples.append(server.figures())
    # a closed session gives its memory back: the next flood reuses it, nothing accumulates
    assert samples[3].rss - samples[1].rss < 30, samples


def test_fragments_of_every_session_share_one_bound(server: Served) -> None:
    """Two sessions each try to hold 16 messages of 12 MiB (384 MiB together): past 256 MiB
    pending in the process, fragments are refused; closing the sessions frees it all."""
    before = server.figures()
    flooders = [Flooder(server), Flooder(server)]
    try:
        for num in range(12):
            for n, flooder in enumerate(flooders):
                for i in range(16):
                    flooder.fragment(f"s{n}-m{i}", num=num, total=13)
        for n, flooder in enumerate(flooders):
            flooder.sync(f"sync{n}")
        refused = sum(f.errors("too many pending fragments") for f in flooders)
        assert refused > 0
        peak = server.figures()
        assert peak.rss - before.rss < 256 + 120, (before, peak)
    finally:
        for flooder in flooders:
            flooder.close()
    # everything was released: a new session may hold its 16 MiB again
    again = Flooder(server)
    try:
        for i in range(16):
            again.fragment(f"again{i}")
        again.sync("sync-again")
        assert again.errors("") == 0, again.replies[-3:]
    finally:
        again.close()


def test_fragments_count_in_the_websocket_rate_limit(
    module_servers: Callable[..., Served],
) -> None:
    """With ROSWEB_WS_RATE_LIMIT of 20 a second, a burst of fragment frames is held to the
    limit (the op was not rate limited at all). ``rosweb run`` stops reading the connection
    while it is over (TCP back-pressure): every frame is handled, in order, with one warning a
    second. The Flask transport cannot stop reading (simple-websocket reads ahead): it refuses
    past the limit at the cost of one status a second, the next refusal a second later counting
    the ones folded into it."""
    for kind in ("rosweb", "flask"):
        server = module_servers(kind=kind, ROSWEB_WS_RATE_LIMIT="20/second")
        flooder = Flooder(server)
        try:
            if kind == "rosweb":
                flooder.ws.send(json.dumps({"op": "set_level", "level": "warning"}))
                for _ in range(50):
                    flooder.fragment("same", data="x")
                flooder.sync("after-the-burst")  # handled after all 50, in order
                refused = [r for r in flooder.replies if r.get("level") == "error"]
                assert refused == [], refused[:3]
                slowed = [r for r in flooder.replies if "slowed down" in r.get("msg", "")]
                assert 1 <= len(slowed) <= 4, flooder.replies[-3:]
                assert slowed[0]["level"] == "warning"
                continue
            for _ in range(200):
                flooder.fragment("same", data="x")  # one pending message, replaced each time
            wait_for(lambda f=flooder: f.errors("too many requests") >= 1, timeout=30)  # type: ignore[misc]
            time.sleep(1.2)
            for _ in range(30):  # over the limit again, a second later
                flooder.fragment("same", data="x")
            wait_for(lambda f=flooder: f.errors("more refused") >= 1, timeout=30)  # type: ignore[misc]
            folded = [r for r in flooder.replies if "more refused" in r.get("msg", "")]
            assert int(folded[0]["msg"].split("(")[-1].split()[0]) >= 150, folded
            assert flooder.errors("too many requests") <= 4, (kind, len(flooder.replies))
        finally:
            flooder.close()
