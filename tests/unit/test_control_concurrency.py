"""The deadman and the e-stop under concurrency: the published order of Twists matches the state.

Many threads drive, stop, engage and clear the e-stop and drop their connection at once, on the
simulator's real bus; every Twist published on the command topic is recorded in the order the
bus took it. Whatever the interleaving: no move is published while an e-stop is engaged (from
the moment ``engage_estop`` returns until ``clear_estop`` is called), and after the last move
the robot ends stopped within the deadman's timeout.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from helpers import wait_for
from rosweb.control import Control
from rosweb.control.teleop import is_zero
from rosweb.errors import EStopEngaged, LeaseHeld
from rosweb.graph.sim import Bus
from rosweb.messages import Message

TIMEOUT = 0.05
MOVE = {"linear": {"x": 0.2, "y": 0.0, "z": 0.0}, "angular": {"x": 0.0, "y": 0.0, "z": 0.3}}


class RecordingBus(Bus):
    """The sim's bus, keeping every message published on /cmd_vel in the order it took them,
    and taking a fraction of a millisecond per publish as a real middleware does."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[Message] = []
        self.log_lock = threading.Lock()

    def publish(self, topic: str, type_name: str, msg: Message, *, latch: bool = False) -> None:
        time.sleep(0.0002)  # a middleware takes its time to send (rospy: serialize, write)
        with self.log_lock:
            super().publish(topic, type_name, msg, latch=latch)
            if topic == "/cmd_vel":
                self.log.append(msg)

    def mark(self) -> int:
        with self.log_lock:
            return len(self.log)


def test_interleaved_moves_stops_estops_and_disconnects_end_stopped() -> None:
    bus = RecordingBus()
    received: list[Message] = []
    bus.subscribe("/cmd_vel", received.append, "geometry_msgs/Twist")
    control = Control(bus, timeout=TIMEOUT)
    windows: list[tuple[int, int]] = []  # (log index when engaged, log index when cleared)
    last_move = [0.0]
    deadline = time.monotonic() + 1.5
    errors: list[BaseException] = []

    def driver(user: str) -> None:
        rng = random.Random(user)
        while time.monotonic() < deadline:
            try:
                if rng.random() < 0.8:
                    control.drive("/cmd_vel", MOVE, user=user)
                    last_move[0] = time.monotonic()
                else:
                    control.stop()
            except (EStopEngaged, LeaseHeld):
                pass
            time.sleep(rng.random() * 0.002)

    def estopper() -> None:
        rng = random.Random(7)
        while time.monotonic() < deadline:
            control.engage_estop(user="safety")
            start = bus.mark()
            time.sleep(rng.random() * 0.02)
            end = bus.mark()
            control.clear_estop(user="safety")
            windows.append((start, end))
            time.sleep(rng.random() * 0.02)

    def disconnector() -> None:
        rng = random.Random(11)
        while time.monotonic() < deadline:
            control.disconnected("op", "")
            control.release(user="op")
            time.sleep(rng.random() * 0.01)

    def guarded(fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except BaseException as err:  # reported below: a thread's failure fails the test
            errors.append(err)

    threads = [threading.Thread(target=guarded, args=(driver, "op")) for _ in range(4)]
    threads += [threading.Thread(target=guarded, args=(estopper,))]
    threads += [threading.Thread(target=guarded, args=(disconnector,))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not errors, errors
        assert windows, "the e-stop was engaged at least once"
        with bus.log_lock:
            log = list(bus.log)
        moves = sum(not is_zero(m) for m in log)
        assert moves > 100, "the drivers got moves through between e-stops"
        for start, end in windows:
            assert all(is_zero(m) for m in log[start:end]), "a move went out under the e-stop"
        # the last move was at last_move; the robot is stopped within the deadman's timeout
        wait_for(lambda: not control.state()["moving"], timeout=TIMEOUT * 10)
        assert time.monotonic() - last_move[0] < 5
        wait_for(lambda: bool(received) and is_zero(received[-1]), timeout=TIMEOUT * 10)
        time.sleep(TIMEOUT * 4)
        assert is_zero(received[-1])
        assert is_zero(bus.log[-1])
    finally:
        control.close()
        bus.close()


def test_the_watchdog_is_never_overtaken_by_an_older_move() -> None:
    """A move and a stop racing on two threads: whatever the order, the last Twist on the topic
    agrees with the deadman's state (a stop last means not moving, and the other way round)."""
    bus = RecordingBus()
    control = Control(bus, timeout=0.01)
    try:
        for _ in range(300):
            barrier = threading.Barrier(2)

            def move(barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                control.drive("/cmd_vel", MOVE, user="op")

            def stop(barrier: threading.Barrier = barrier) -> None:
                barrier.wait()
                control.stop()

            a, b = threading.Thread(target=move), threading.Thread(target=stop)
            a.start(), b.start()
            a.join(), b.join()
            with bus.log_lock:
                last = bus.log[-1]
                moving = control.state()["moving"]
            assert moving == (not is_zero(last)), (moving, last)
        wait_for(lambda: is_zero(bus.log[-1]) and not control.state()["moving"], timeout=1)
    finally:
        control.close()
        bus.close()
