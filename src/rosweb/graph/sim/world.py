"""Pure 2D world of the embedded simulated differential-drive robot.

Geometry, unicycle motion with collisions, a ray-cast laser scanner and a ray-cast
first-person camera (one wall slice per image column, Wolfenstein style). No I/O, no
threads, no ROS: the caller turns the results into messages.

Conventions are ROS ones: metres, radians, x forward, y to the left, theta counter-clockwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ByteArray = npt.NDArray[np.uint8]

_MAX_SUBSTEPS = 20_000  # bounds the work of one step(); beyond it the speed is clamped
_TURN_SUBSTEP = 0.05  # rad of heading change per substep while translating (arc accuracy)
_WALL_HEIGHT = 1.0  # m
_CAMERA_HEIGHT = 0.4  # m; the horizon is the middle image row
_STRIPE = 0.5  # m; width of the alternating vertical bands along walls


def normalize_angle(angle: float) -> float:
    """Wrap an angle to (-pi, pi]."""
    wrapped = math.remainder(angle, 2.0 * math.pi)
    return math.pi if wrapped <= -math.pi else wrapped


@dataclass(frozen=True)
class Pose:
    """Robot pose in the world frame; theta is normalised to (-pi, pi] on creation."""

    x: float
    y: float
    theta: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "x", float(self.x))
        object.__setattr__(self, "y", float(self.y))
        object.__setattr__(self, "theta", normalize_angle(float(self.theta)))


DEFAULT_WALLS: tuple[tuple[float, float, float, float], ...] = (
    # outer walls of the 8 m x 6 m room
    (0.0, 0.0, 8.0, 0.0),  # south
    (8.0, 0.0, 8.0, 6.0),  # east
    (8.0, 6.0, 0.0, 6.0),  # north
    (0.0, 6.0, 0.0, 0.0),  # west
    # box straight ahead of the start pose, x in [5.5, 6.5], y in [2.5, 3.5]
    (5.5, 2.5, 5.5, 3.5),  # box west face (3.5 m ahead of the start)
    (5.5, 3.5, 6.5, 3.5),  # box north face
    (6.5, 3.5, 6.5, 2.5),  # box east face
    (6.5, 2.5, 5.5, 2.5),  # box south face
    # partial dividing wall coming out of the south wall
    (4.0, 0.0, 4.0, 2.0),
    # short stub wall coming out of the north wall
    (3.0, 6.0, 3.0, 4.8),
    # diagonal wall cutting the north-east corner
    (6.5, 6.0, 8.0, 4.5),
)
DEFAULT_START = Pose(2.0, 3.0, 0.0)

_PALETTE: tuple[tuple[int, int, int], ...] = (
    (200, 60, 60), (60, 160, 70), (70, 100, 215), (225, 185, 50), (165, 80, 195),
    (60, 185, 185), (235, 130, 40), (215, 110, 160), (145, 110, 70), (150, 205, 80),
    (115, 125, 150), (235, 225, 200),
)  # fmt: skip


def _palette(n: int) -> ByteArray:
    """n clearly different colours: a fixed palette, then golden-ratio hues beyond it."""
    cols = np.zeros((n, 3))
    m = min(n, len(_PALETTE))
    cols[:m] = np.array(_PALETTE[:m], dtype=np.float64).reshape(m, 3)
    for i in range(m, n):
        hue = (i * 0.618034) % 1.0
        k = np.clip(np.abs((hue * 6.0 + np.array([0.0, 4.0, 2.0])) % 6.0 - 3.0) - 1.0, 0.0, 1.0)
        cols[i] = 230.0 * (1.0 - 0.6 * (1.0 - k))  # HSV with s=0.6, v=0.9
    return cols.round().astype(np.uint8)


@lru_cache(maxsize=8)
def _background(height: int, headlights: bool) -> ByteArray:
    """(height, 1, 3) ceiling gradient over the top half and floor gradient over the bottom."""
    s = (np.arange(height) + 0.5) / height  # 0 at the top, 1 at the bottom
    up = np.clip(1.0 - 2.0 * s, 0.0, 1.0)[:, None]  # 1 at the top, 0 at the horizon
    down = np.clip(2.0 * s - 1.0, 0.0, 1.0)[:, None]  # 0 at the horizon, 1 at the bottom
    ceiling = np.array([150.0, 165.0, 185.0]) * (1.0 - up) + np.array([70.0, 85.0, 115.0]) * up
    floor = np.array([55.0, 50.0, 45.0]) * (1.0 - down) + np.array([125.0, 112.0, 95.0]) * down
    if headlights:
        floor = floor * (1.1 + 0.6 * down)
    img = np.where(s[:, None] < 0.5, ceiling, floor)
    out = np.clip(img, 0.0, 255.0).astype(np.uint8)[:, None, :]
    out.flags.writeable = False
    return out


class World:
    """Static walls (line segments) plus a disc-shaped robot moving among them."""

    def __init__(
        self,
        walls: Sequence[tuple[float, float, float, float]] = DEFAULT_WALLS,
        robot_radius: float = 0.18,
        start: Pose = DEFAULT_START,
    ) -> None:
        arr = np.asarray(walls, dtype=np.float64)
        if arr.size == 0:
            arr = arr.reshape(0, 4)
        if arr.ndim != 2 or arr.shape[1] != 4 or not np.isfinite(arr).all():
            raise ValueError("walls must be a sequence of finite (x1, y1, x2, y2) segments")
        if not robot_radius > 0.0:
            raise ValueError("robot_radius must be positive")
        self.walls: FloatArray = arr
        self.colors: ByteArray = _palette(len(arr))
        self.robot_radius: float = float(robot_radius)
        self.start: Pose = start
        self._a: FloatArray = arr[:, 0:2]
        self._e: FloatArray = arr[:, 2:4] - arr[:, 0:2]
        self._len2: FloatArray = np.einsum("ij,ij->i", self._e, self._e)
        self._len: FloatArray = np.sqrt(self._len2)
        self._normal: FloatArray = (
            np.stack([-self._e[:, 1], self._e[:, 0]], axis=1)
            / np.maximum(self._len, 1e-12)[:, None]
        )
        if self.collides(start.x, start.y):
            raise ValueError(f"start pose {start} collides with a wall")

    # ------------------------------------------------------------------ geometry
    def clearance(self, x: float, y: float) -> float:
        """Distance from the point (x, y) to the nearest wall (inf without walls)."""
        if len(self.walls) == 0:
            return math.inf
        p = np.array([x, y]) - self._a
        t = np.clip(np.einsum("ij,ij->i", p, self._e) / np.maximum(self._len2, 1e-18), 0.0, 1.0)
        d = p - t[:, None] * self._e
        return float(np.sqrt(np.einsum("ij,ij->i", d, d).min()))

    def collides(self, x: float, y: float) -> bool:
        """True when the robot disc centred at (x, y) overlaps any wall."""
        return self.clearance(x, y) < self.robot_radius

    # ------------------------------------------------------------------ motion
    def step(self, pose: Pose, v: float, w: float, dt: float) -> tuple[Pose, float, bool]:
        """Integrate unicycle kinematics for dt seconds.

        Returns (new_pose, actual signed linear velocity, collided). A translation substep
        that would bring the disc into (or deeper into) a wall is refused, and translation
        stops for the rest of the step; rotation always applies.
        """
        if not (dt > 0.0 and math.isfinite(dt)):
            return pose, 0.0, False
        v = v if math.isfinite(v) else 0.0
        w = w if math.isfinite(w) else 0.0
        max_move = self.robot_radius / 4.0
        n = 1
        if v != 0.0:
            n = math.ceil(abs(v) * dt / max_move)
            if n > _MAX_SUBSTEPS:  # absurd speeds: clamp rather than loop for ages
                n, v = _MAX_SUBSTEPS, math.copysign(_MAX_SUBSTEPS * max_move / dt, v)
            n = max(n, min(math.ceil(abs(w) * dt / _TURN_SUBSTEP), _MAX_SUBSTEPS))
        h = dt / n
        x, y, theta = pose.x, pose.y, pose.theta
        clear = self.clearance(x, y)
        travelled = 0.0
        collided = False
        for i in range(n):
            if v != 0.0:
                heading = theta + 0.5 * w * h
                nx, ny = x + v * h * math.cos(heading), y + v * h * math.sin(heading)
                new_clear = self.clearance(nx, ny)
                if new_clear < self.robot_radius and new_clear <= clear:
                    frac = self._free_fraction(x, y, nx - x, ny - y, clear)
                    x, y = x + frac * (nx - x), y + frac * (ny - y)
                    travelled += frac * v * h
                    collided = True
                    theta += w * h * (n - i)
                    break
                x, y, clear = nx, ny, new_clear
                travelled += v * h
            theta += w * h
        return Pose(x, y, theta), travelled / dt, collided

    def _free_fraction(self, x: float, y: float, dx: float, dy: float, clear: float) -> float:
        """Largest fraction (by bisection) of the move (dx, dy) that stays allowed."""
        lo, hi = 0.0, 1.0
        for _ in range(10):
            mid = 0.5 * (lo + hi)
            c = self.clearance(x + mid * dx, y + mid * dy)
            lo, hi = (mid, hi) if c >= self.robot_radius or c > clear else (lo, mid)
        return lo

    # ------------------------------------------------------------------ sensing
    def _cast(self, x: float, y: float, angles: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Cast rays from (x, y); return hit distance (inf if none) and hit segment index.

        Distance and index are float arrays; the index is -1 where nothing was hit.
        """
        n_rays = len(angles)
        if len(self.walls) == 0:
            return np.full(n_rays, np.inf), np.full(n_rays, -1.0)
        dx, dy = np.cos(angles)[:, None], np.sin(angles)[:, None]  # (R, 1)
        qx, qy = self._a[:, 0] - x, self._a[:, 1] - y  # (N,)
        ex, ey = self._e[:, 0], self._e[:, 1]
        denom = dx * ey - dy * ex  # cross(d, e), (R, N)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (qx * ey - qy * ex) / denom  # distance along the ray
            u = (qx * dy - qy * dx) / denom  # fraction along the segment
        ok = (np.abs(denom) > 1e-12) & (t >= 0.0) & (u >= 0.0) & (u <= 1.0)
        t = np.where(ok, t, np.inf)
        idx = np.argmin(t, axis=1)
        dist = t[np.arange(n_rays), idx]
        return dist, np.where(np.isfinite(dist), idx, -1).astype(np.float64)

    def scan(
        self,
        pose: Pose,
        angle_min: float,
        angle_max: float,
        count: int,
        range_min: float,
        range_max: float,
    ) -> npt.NDArray[np.float32]:
        """Laser ranges from the robot centre, angles relative to the heading, inclusive ends.

        REP 117: +inf where nothing is within range_max, -inf where closer than range_min.
        """
        angles = pose.theta + np.linspace(angle_min, angle_max, max(int(count), 0))
        dist, _ = self._cast(pose.x, pose.y, angles)
        ranges = dist.astype(np.float32)
        ranges[dist > range_max] = np.inf
        ranges[dist < range_min] = -np.inf
        return ranges

    def render(
        self,
        pose: Pose,
        width: int = 320,
        height: int = 240,
        fov: float = 1.2,
        headlights: bool = False,
    ) -> bytes:
        """First-person rgb8 image (row-major, height*width*3 bytes) from the robot centre.

        Column 0 looks at +fov/2 (the robot's left), the last column at -fov/2 (its right).
        """
        if width < 1 or height < 1 or not 0.0 < fov < math.pi:
            raise ValueError("need width >= 1, height >= 1 and 0 < fov < pi")
        background = _background(height, headlights)
        if len(self.walls) == 0:
            return np.broadcast_to(background, (height, width, 3)).tobytes()
        half = math.tan(fov / 2.0)
        focal = (width / 2.0) / half  # pinhole focal length in pixels (square pixels)
        rel = np.arctan(half * (1.0 - 2.0 * (np.arange(width) + 0.5) / width))
        dist, idx_f = self._cast(pose.x, pose.y, pose.theta + rel)
        hit = idx_f >= 0
        idx = np.where(hit, idx_f, 0).astype(np.intp)
        perp = np.maximum(dist * np.cos(rel), 1e-3)  # fish-eye correction
        horizon = height / 2.0
        top = np.where(hit, horizon - focal * (_WALL_HEIGHT - _CAMERA_HEIGHT) / perp, horizon)
        bottom = np.where(hit, horizon + focal * _CAMERA_HEIGHT / perp, horizon)

        # wall colour per column: distance falloff, angle of incidence, stripes, headlights
        ang = pose.theta + rel
        cos_inc = np.abs(self._normal[idx, 0] * np.cos(ang) + self._normal[idx, 1] * np.sin(ang))
        d = np.where(hit, dist, 0.0)
        light = 0.85 / (1.0 + 0.12 * d) * (0.65 + 0.35 * cos_inc)
        if headlights:
            light = light * 1.25 + 0.7 * cos_inc / (1.0 + 0.3 * d * d)
        hx, hy = pose.x + d * np.cos(ang), pose.y + d * np.sin(ang)
        along = np.hypot(hx - self._a[idx, 0], hy - self._a[idx, 1])
        base = self.colors[idx].astype(np.float64)
        light = np.minimum(light, 255.0 / np.maximum(base.max(axis=1), 1.0))  # keep the hue
        light = light * np.where(np.floor(along / _STRIPE) % 2.0 == 0.0, 1.0, 0.86)
        wall_rgb = np.clip(base * light[:, None], 0.0, 255.0).astype(np.uint8)

        rows = np.arange(height)[:, None] + 0.5
        mask = (rows >= top) & (rows < bottom)  # (H, W)
        img = np.where(mask[:, :, None], wall_rgb[None, :, :], background)
        return img.astype(np.uint8, copy=False).tobytes()
