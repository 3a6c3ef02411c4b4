"""Teleop commands, velocity limits and the deadman, on the bare in-process bus."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from helpers import wait_for
from rosweb.control import Teleop, VelocityLimits
from rosweb.errors import ValidationError
from rosweb.graph.sim import Bus
from rosweb.messages import Message


class Recorder:
    def __init__(self) -> None:
        self.items: list[tuple[float, Message]] = []
        self.lock = threading.Lock()

    def __call__(self, msg: Message) -> None:
        with self.lock:
            self.items.append((time.monotonic(), msg))

    def linear_x(self) -> list[float]:
        with self.lock:
            return [m["linear"]["x"] for _, m in self.items]


@pytest.fixture
def bus() -> Iterator[Bus]:
    bus = Bus()
    yield bus
    bus.close()


@pytest.fixture
def recorder(bus: Bus) -> Recorder:
    recorder = Recorder()
    bus.subscribe("/cmd_vel", recorder, "geometry_msgs/Twist")
    return recorder


def test_commands_map_to_twists(bus: Bus, recorder: Recorder) -> None:
    teleop = Teleop(bus, linear_speed=0.4, angular_speed=1.5)
    assert teleop.command("forward")["linear"]["x"] == pytest.approx(0.4)
    assert teleop.command("back", speed=0.5)["linear"]["x"] == pytest.approx(-0.2)
    assert teleop.command("left")["angular"]["z"] == pytest.approx(1.5)
    assert teleop.command("right")["angular"]["z"] == pytest.approx(-1.5)
    assert teleop.command("stop") == {
        "linear": {"x": 0.0, "y": 0.0, "z": 0.0},
        "angular": {"x": 0.0, "y": 0.0, "z": 0.0},
    }
    assert recorder.linear_x()[:2] == pytest.approx([0.4, -0.2])
    teleop.close()


def test_bad_commands_name_the_field(bus: Bus) -> None:
    teleop = Teleop(bus)
    with pytest.raises(ValidationError) as err:
        teleop.command("jump")
    assert err.value.field == "command"
    for speed in (-0.1, 1.5, "fast", True):
        with pytest.raises(ValidationError) as err:
            teleop.command("forward", speed)  # type: ignore[arg-type]
        assert err.value.field == "speed"
    teleop.close()


def test_velocity_limits_clamp_every_component() -> None:
    limits = VelocityLimits(max_linear=0.5, max_angular=1.0)
    twist = {
        "linear": {"x": 3.0, "y": -2.0, "z": float("nan")},
        "angular": {"x": 0.0, "y": 0.0, "z": -9.0},
    }
    assert limits.clamp(twist) == {
        "linear": {"x": 0.5, "y": -0.5, "z": 0.0},
        "angular": {"x": 0.0, "y": 0.0, "z": -1.0},
    }


def test_deadman_stops_a_silent_operator(bus: Bus, recorder: Recorder) -> None:
    teleop = Teleop(bus, timeout=0.2)
    sent = time.monotonic()
    teleop.command("forward")
    wait_for(lambda: len(recorder.items) >= 2, timeout=2)
    stopped_at, stop = recorder.items[1]
    assert stop["linear"]["x"] == 0.0
    assert 0.15 <= stopped_at - sent < 1.0
    assert teleop.deadman_stops == 1
    assert not teleop.moving
    teleop.close()


def test_repeated_commands_keep_moving(bus: Bus, recorder: Recorder) -> None:
    teleop = Teleop(bus, timeout=0.3)
    for _ in range(8):
        teleop.command("forward")
        time.sleep(0.1)
    assert all(x > 0 for x in recorder.linear_x())
    wait_for(lambda: recorder.linear_x()[-1] == 0.0, timeout=2)
    assert teleop.deadman_stops == 1
    teleop.close()


def test_explicit_stop_disarms_the_deadman(bus: Bus, recorder: Recorder) -> None:
    teleop = Teleop(bus, timeout=0.1)
    teleop.command("left")
    teleop.command("stop")
    time.sleep(0.3)
    assert teleop.deadman_stops == 0
    assert len(recorder.items) == 2
    teleop.close()


def test_close_stops_a_moving_robot(bus: Bus, recorder: Recorder) -> None:
    teleop = Teleop(bus, timeout=10)
    teleop.command("forward")
    teleop.close()
    assert recorder.linear_x() == [pytest.approx(0.3), 0.0]
