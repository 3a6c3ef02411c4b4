"""``Serial``: one connection's work in order, on a shared pool of real threads, and its close."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from rosweb.server.offload import Serial


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(max_workers=4)
    yield executor
    executor.shutdown(wait=True)


def test_work_waiting_when_the_connection_closes_runs_before_its_last_word(
    pool: ThreadPoolExecutor,
) -> None:
    serial = Serial(pool)
    gate, done = threading.Event(), threading.Event()
    ran: list[str] = []
    assert serial.submit(gate.wait, 10)  # the backend is busy: the rest waits behind it
    for i in range(5):
        assert serial.submit(ran.append, f"frame {i}")
    serial.finish(lambda: (ran.append("closed"), done.set()))
    assert not serial.submit(ran.append, "after the close")  # refused
    gate.set()
    assert done.wait(10)
    assert ran == [f"frame {i}" for i in range(5)] + ["closed"]


def test_a_backend_slower_than_the_grace_does_not_hold_the_close(
    pool: ThreadPoolExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    serial = Serial(pool, grace=0.1)
    gate, done = threading.Event(), threading.Event()
    ran: list[str] = []

    def stalled() -> None:
        ran.append("stalled")
        gate.wait(10)

    assert serial.submit(stalled)
    for i in range(3):
        assert serial.submit(ran.append, f"frame {i}")
    serial.finish(lambda: (ran.append("closed"), done.set()))
    threading.Timer(0.4, gate.set).start()  # the backend answers after the grace
    with caplog.at_level(logging.WARNING, logger="rosweb.server.offload"):
        assert done.wait(10)
    assert ran == ["stalled", "closed"]
    assert "last 3 frames were dropped" in caplog.text


def test_a_closed_pool_still_gets_the_last_word(pool: ThreadPoolExecutor) -> None:
    serial = Serial(pool)
    pool.shutdown(wait=True)
    ran: list[str] = []
    serial.finish(ran.append, "closed")
    assert ran == ["closed"]
