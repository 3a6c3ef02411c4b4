"""Unit tests for the pure 2D simulation world (geometry, motion, laser, camera)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rosweb.graph.sim.world import DEFAULT_WALLS, Pose, World

ROOM = (0.0, 8.0, 0.0, 6.0)


def _image(data: bytes, width: int = 320, height: int = 240) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3).astype(np.int16)


def _drive(
    world: World, pose: Pose, v: float, w: float, seconds: float, dt: float = 0.02
) -> tuple[Pose, bool]:
    collided_any = False
    for _ in range(round(seconds / dt)):
        pose, _, collided = world.step(pose, v, w, dt)
        collided_any |= collided
        assert not world.collides(pose.x, pose.y)
    return pose, collided_any


def _assert_inside(world: World, pose: Pose) -> None:
    x0, x1, y0, y1 = ROOM
    r = world.robot_radius
    assert x0 + r <= pose.x <= x1 - r
    assert y0 + r <= pose.y <= y1 - r
    assert not world.collides(pose.x, pose.y)


def test_pose_theta_is_normalised() -> None:
    assert Pose(0.0, 0.0, 3 * math.pi / 2).theta == pytest.approx(-math.pi / 2)
    assert Pose(0.0, 0.0, -math.pi).theta == pytest.approx(math.pi)
    assert Pose(0.0, 0.0, 2 * math.pi + 0.1).theta == pytest.approx(0.1)


def test_default_world_layout() -> None:
    world = World()
    assert world.walls.shape == (len(DEFAULT_WALLS), 4)
    assert world.walls.dtype == np.float64
    assert world.colors.shape == (len(DEFAULT_WALLS), 3)
    assert world.colors.dtype == np.uint8
    assert len({tuple(c) for c in world.colors.tolist()}) == len(DEFAULT_WALLS)
    assert world.start == Pose(2.0, 3.0, 0.0)
    assert world.clearance(2.0, 3.0) > 1.0  # start is free with margin
    assert world.walls[:, [0, 2]].min() == 0.0
    assert world.walls[:, [0, 2]].max() == 8.0
    assert world.walls[:, [1, 3]].min() == 0.0
    assert world.walls[:, [1, 3]].max() == 6.0


def test_collides() -> None:
    world = World()
    assert not world.collides(2.0, 3.0)
    assert world.collides(0.1, 3.0)  # against the west wall
    assert world.collides(4.05, 1.0)  # against the dividing wall
    assert world.collides(5.6, 3.0)  # just inside the box's west face
    assert not world.collides(6.0, 3.0)  # walls are segments: the box's middle is empty space
    with pytest.raises(ValueError, match="collides"):
        World(start=Pose(0.05, 3.0, 0.0))


def test_drive_forward_increases_x() -> None:
    world = World()
    pose, v_actual, collided = world.step(world.start, 0.5, 0.0, 0.02)
    assert pose.x == pytest.approx(2.0 + 0.5 * 0.02, abs=1e-9)
    assert pose.y == pytest.approx(3.0)
    assert pose.theta == pytest.approx(0.0)
    assert v_actual == pytest.approx(0.5)
    assert not collided
    pose, _ = _drive(world, world.start, 0.5, 0.0, 2.0)
    assert pose.x == pytest.approx(3.0, abs=1e-6)
    back, v_back, _ = world.step(world.start, -0.4, 0.0, 0.5)
    assert back.x == pytest.approx(1.8)
    assert v_back == pytest.approx(-0.4)


def test_turn_in_place_changes_only_theta() -> None:
    world = World()
    pose, v_actual, collided = world.step(world.start, 0.0, 1.0, 0.5)
    assert pose.theta == pytest.approx(0.5)
    assert (pose.x, pose.y) == (2.0, 3.0)
    assert v_actual == 0.0
    assert not collided
    pose, _ = _drive(world, world.start, 0.0, -math.pi / 2, 1.0)
    assert pose.theta == pytest.approx(-math.pi / 2, abs=1e-9)
    assert (pose.x, pose.y) == pytest.approx((2.0, 3.0))


def test_arc_motion() -> None:
    world = World()
    pose, _ = _drive(world, world.start, 0.5, 0.5, 3.0)  # an arc of radius 1
    assert pose.theta == pytest.approx(1.5)
    assert pose.x == pytest.approx(2.0 + math.sin(1.5), abs=1e-4)
    assert pose.y == pytest.approx(3.0 + 1.0 - math.cos(1.5), abs=1e-4)


@pytest.mark.parametrize("theta", [0.0, math.pi, math.pi / 2, -math.pi / 2, 2.5])
def test_long_fast_drive_never_passes_a_wall(theta: float) -> None:
    world = World()
    pose, collided = _drive(world, Pose(2.0, 3.0, theta), 5.0, 0.0, 20.0)
    assert collided
    _assert_inside(world, pose)
    pose, v_actual, collided = world.step(Pose(2.0, 3.0, theta), 100.0, 0.0, 1.0)
    assert collided
    assert 0.0 < v_actual < 100.0
    _assert_inside(world, pose)


def test_drive_into_box_stops_just_in_front_of_it() -> None:
    world = World()
    pose, v_actual, collided = world.step(world.start, 100.0, 0.3, 1.0)
    assert collided
    assert pose.theta == pytest.approx(0.3)
    pose, _ = _drive(world, world.start, 5.0, 0.0, 20.0)
    r = world.robot_radius
    assert pose.x == pytest.approx(5.5 - r, abs=1e-3)  # stopped touching the box face
    assert pose.x <= 5.5 - r
    assert world.scan(pose, 0.0, 0.0, 1, 0.0, 10.0)[0] == pytest.approx(r, abs=1e-3)
    _, v_actual, collided = world.step(pose, 1.0, 0.0, 0.02)
    assert collided
    assert abs(v_actual) < 0.01
    away, v_actual, collided = world.step(pose, -1.0, 0.0, 0.02)
    assert not collided
    assert away.x < pose.x
    assert v_actual == pytest.approx(-1.0)


def test_no_tunnelling_through_thin_dividing_wall() -> None:
    world = World()
    start = Pose(3.0, 1.0, 0.0)  # west of the zero-thickness wall x=4, y in [0, 2]
    for v, dt in [(100.0, 1.0), (1000.0, 0.1), (5.0, 20.0)]:
        pose, _, collided = world.step(start, v, 0.0, dt)
        assert collided
        assert pose.x < 4.0 - world.robot_radius
    pose, _ = _drive(world, start, 5.0, 0.0, 5.0)
    assert pose.x < 4.0 - world.robot_radius


def test_scan_from_start() -> None:
    world = World()
    ranges = world.scan(world.start, -math.pi / 2, math.pi / 2, 3, 0.05, 10.0)
    assert ranges.dtype == np.float32
    assert ranges.shape == (3,)
    # right: south wall y=0; ahead: box west face x=5.5; left: north wall y=6
    assert ranges.tolist() == pytest.approx([3.0, 3.5, 3.0], abs=1e-5)
    behind = world.scan(world.start, math.pi, math.pi, 1, 0.05, 10.0)
    assert behind[0] == pytest.approx(2.0)  # west wall x=0
    short = world.scan(world.start, -0.1, 0.1, 5, 0.05, 3.0)
    assert short[2] == np.inf
    full = world.scan(world.start, -math.pi, math.pi, 360, 0.05, 10.0)
    assert full.dtype == np.float32
    assert full.shape == (360,)
    assert np.isfinite(full).all()
    assert (full > 1.0).all()
    assert (full < 10.0).all()


def test_scan_and_render_follow_ros_left_right() -> None:
    world = World(walls=[(-10.0, 1.0, 10.0, 1.0)], start=Pose(0.0, 0.0, 0.0))
    left, right = world.scan(world.start, math.pi / 2, -math.pi / 2, 2, 0.0, 5.0).tolist()
    assert left == pytest.approx(1.0)
    assert right == math.inf
    img = _image(world.render(world.start))
    wall = world.colors[0].astype(np.int16)
    # the only wall is on the left: column 0 shows it at the horizon, the last column does not
    assert np.abs(img[120, 0] - wall).max() < np.abs(img[120, -1] - wall).max()
    assert (img[:, 0] != img[:, -1]).any()


def test_render_size_and_changes() -> None:
    world = World()
    before = world.render(world.start)
    assert isinstance(before, bytes)
    assert len(before) == 320 * 240 * 3
    assert len(world.render(world.start, width=64, height=48)) == 64 * 48 * 3
    turned, _, _ = world.step(world.start, 0.0, math.pi / 2, 1.0)
    after = world.render(turned)
    assert np.abs(_image(after) - _image(before)).mean() > 10.0
    assert (np.abs(_image(after) - _image(before)).max(axis=2) > 30).mean() > 0.25
    moved, _ = _drive(world, world.start, 0.5, 0.0, 2.0)
    assert np.abs(_image(world.render(moved)) - _image(before)).mean() > 5.0
    lit = world.render(world.start, headlights=True)
    assert _image(lit).mean() > _image(before).mean() + 10.0


def test_render_is_deterministic_and_colours_walls() -> None:
    world = World()
    a = world.render(world.start)
    assert a == world.render(world.start)
    img = _image(a)
    # the centre column looks at the box's west face: its hue dominates the horizon row
    box = world.colors[4].astype(np.float64)
    centre = img[120, 160].astype(np.float64)
    cos = centre @ box / (np.linalg.norm(centre) * np.linalg.norm(box))
    assert cos > 0.99
