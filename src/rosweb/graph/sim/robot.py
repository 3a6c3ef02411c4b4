"""The simulated differential-drive robot: a node on the in-process bus.

Like a real robot driver it subscribes ``/cmd_vel`` and publishes ``/odom`` (50 Hz), ``/scan``
(10 Hz), ``/camera/image_raw`` (rgb8, 15 Hz) and ``/battery`` (1 Hz), with what
:mod:`~rosweb.graph.sim.extras` adds (``/rosout``, ``/diagnostics``, TF, ``/map``). Its
parameters under ``/robot/`` are read on every tick, so a change takes effect at once; it
provides ``/reset`` (std_srvs/Trigger) and ``/robot/headlights`` (std_srvs/SetBool).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

from rosweb.graph.sim.bus import Bus
from rosweb.graph.sim.extras import NODE, SimExtras
from rosweb.graph.sim.world import World
from rosweb.messages import Message, from_json

__all__ = ["PARAM_META", "SimRobot"]

log = logging.getLogger(__name__)

ODOM_RATE = 50.0
CAMERA_SIZE = (320, 240)

#: the robot's parameters: default and range (the UI builds its controls from this)
PARAM_META: dict[str, dict[str, Any]] = {
    "/robot/max_linear_speed": {
        "default": 1.0, "min": 0.0, "max": 2.0, "step": 0.05, "unit": "m/s",
        "description": "linear speed limit of the base",
    },
    "/robot/max_angular_speed": {
        "default": 2.0, "min": 0.0, "max": 4.0, "step": 0.1, "unit": "rad/s",
        "description": "angular speed limit of the base",
    },
    "/robot/camera_rate": {
        "default": 15.0, "min": 1.0, "max": 30.0, "step": 1.0, "unit": "Hz",
        "description": "camera frame rate",
    },
    "/robot/scan_rate": {
        "default": 10.0, "min": 1.0, "max": 40.0, "step": 1.0, "unit": "Hz",
        "description": "laser scan rate",
    },
    "/robot/headlights": {"default": False, "description": "headlights on (brighter camera)"},
}  # fmt: skip


def _number_in(low: float, high: float) -> Any:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"expects a number in [{low}, {high}], got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"expects a number in [{low}, {high}], got {value}")
        return float(value)

    return check


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expects true or false, got {value!r}")
    return value


def _stamp(now: float) -> dict[str, int]:
    secs = int(now)
    return {"secs": secs, "nsecs": int((now - secs) * 1e9)}


def _yaw_quaternion(theta: float) -> dict[str, float]:
    return {"x": 0.0, "y": 0.0, "z": math.sin(theta / 2), "w": math.cos(theta / 2)}


class SimRobot:
    """The robot node; ``start()`` runs its loop in a daemon thread, ``close()`` stops it."""

    def __init__(self, bus: Bus, world: World | None = None) -> None:
        self.bus = bus
        self.world = world or World()
        self.pose = self.world.start
        self.linear = 0.0
        self.angular = 0.0
        self.battery = 1.0
        self._cmd = (0.0, 0.0)
        self._seq: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rosweb-sim-robot", daemon=True)
        bus.add_node(NODE)
        for name, meta in PARAM_META.items():
            if "min" in meta:
                bus.params.add_validator(name, _number_in(meta["min"], meta["max"]))
            else:
                bus.params.add_validator(name, _boolean)
            bus.params.set(name, meta["default"])
        self._handles = [
            bus.subscribe("/cmd_vel", self._on_cmd_vel, "geometry_msgs/Twist", node=NODE),
            bus.advertise("/odom", "nav_msgs/Odometry", node=NODE),
            bus.advertise("/scan", "sensor_msgs/LaserScan", node=NODE),
            bus.advertise("/camera/image_raw", "sensor_msgs/Image", node=NODE),
            bus.advertise("/battery", "sensor_msgs/BatteryState", node=NODE),
            bus.provide_service("/reset", "std_srvs/Trigger", self._on_reset, node=NODE),
            bus.provide_service(
                "/robot/headlights", "std_srvs/SetBool", self._on_headlights, node=NODE
            ),
        ]
        self._collided = False
        self.extras = SimExtras(bus, self.world)

    # -- inputs ---------------------------------------------------------------------------------

    def _on_cmd_vel(self, msg: Message) -> None:
        self._cmd = (msg["linear"]["x"], msg["angular"]["z"])

    def _on_reset(self, _request: Message) -> Message:
        with self._lock:
            self.pose = self.world.start
            self._cmd = (0.0, 0.0)
            self.linear = self.angular = 0.0
        self.extras.log("info", "reset to the start pose", "reset")
        return {"success": True, "message": "robot reset to its start pose"}

    def _on_headlights(self, request: Message) -> Message:
        self.bus.params.set("/robot/headlights", request["data"])
        self.extras.log("info", f"headlights {'on' if request['data'] else 'off'}", "headlights")
        return {"success": True, "message": f"headlights {'on' if request['data'] else 'off'}"}

    def _param(self, name: str) -> Any:
        try:
            return self.bus.params.get(name)
        except Exception:  # deleted by a user: fall back to the default
            return PARAM_META[name]["default"]

    # -- loop -----------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        for handle in self._handles:
            handle.close()
        self.extras.close()

    def _run(self) -> None:
        period = 1.0 / ODOM_RATE
        last = time.monotonic()
        next_scan = next_camera = next_battery = last
        while not self._stop.wait(max(0.0, last + period - time.monotonic())):
            now = time.monotonic()
            try:
                self._step(min(now - last, 0.1))
                stamp = time.time()
                self._publish_odom(stamp)
                if now >= next_scan:
                    next_scan = now + 1.0 / self._param("/robot/scan_rate")
                    self._publish_scan(stamp)
                if now >= next_camera:
                    next_camera = now + 1.0 / self._param("/robot/camera_rate")
                    self._publish_camera(stamp)
                if now >= next_battery:
                    next_battery = now + 1.0
                    self._publish_battery(stamp)
                rates = {"scan": self._param("/robot/scan_rate"),
                         "camera": self._param("/robot/camera_rate")}  # fmt: skip
                self.extras.tick(now, stamp, self.pose, self._collided, self.battery, rates)
            except Exception:
                log.exception("simulated robot step failed")
            last = now

    def _step(self, dt: float) -> None:
        max_v = self._param("/robot/max_linear_speed")
        max_w = self._param("/robot/max_angular_speed")
        v, w = self._cmd
        v = max(-max_v, min(max_v, v))
        w = max(-max_w, min(max_w, w))
        with self._lock:
            self.pose, self.linear, self._collided = self.world.step(self.pose, v, w, dt)
            self.angular = w
        drain = 0.0002 + 0.0008 * (abs(self.linear) + 0.2 * abs(w))  # fraction per second
        self.battery = max(0.0, self.battery - drain * dt)

    def _header(self, topic: str, stamp: float, frame_id: str) -> dict[str, Any]:
        seq = self._seq[topic] = self._seq.get(topic, -1) + 1
        return {"seq": seq, "stamp": _stamp(stamp), "frame_id": frame_id}

    def _publish(self, topic: str, type_name: str, value: dict[str, Any]) -> None:
        self.bus.publish(topic, type_name, from_json(self.bus.types, type_name, value), node=NODE)

    def _publish_odom(self, stamp: float) -> None:
        pose = self.pose
        self._publish(
            "/odom",
            "nav_msgs/Odometry",
            {
                "header": self._header("/odom", stamp, "odom"),
                "child_frame_id": "base_link",
                "pose": {
                    "pose": {
                        "position": {"x": pose.x, "y": pose.y, "z": 0.0},
                        "orientation": _yaw_quaternion(pose.theta),
                    }
                },
                "twist": {"twist": {"linear": {"x": self.linear}, "angular": {"z": self.angular}}},
            },
        )

    def _publish_scan(self, stamp: float) -> None:
        angle_min, angle_max, count, range_min, range_max = -math.pi, math.pi, 360, 0.12, 8.0
        ranges = self.world.scan(self.pose, angle_min, angle_max, count, range_min, range_max)
        rate = self._param("/robot/scan_rate")
        self._publish(
            "/scan",
            "sensor_msgs/LaserScan",
            {
                "header": self._header("/scan", stamp, "base_scan"),
                "angle_min": angle_min,
                "angle_max": angle_max,
                "angle_increment": (angle_max - angle_min) / (count - 1),
                "time_increment": 0.0,
                "scan_time": 1.0 / rate,
                "range_min": range_min,
                "range_max": range_max,
                "ranges": ranges.tolist(),
            },
        )

    def _publish_camera(self, stamp: float) -> None:
        width, height = CAMERA_SIZE
        data = self.world.render(
            self.pose, width, height, headlights=bool(self._param("/robot/headlights"))
        )
        self._publish(
            "/camera/image_raw",
            "sensor_msgs/Image",
            {
                "header": self._header("/camera/image_raw", stamp, "camera"),
                "height": height,
                "width": width,
                "encoding": "rgb8",
                "is_bigendian": 0,
                "step": width * 3,
                "data": data,
            },
        )

    def _publish_battery(self, stamp: float) -> None:
        self._publish(
            "/battery",
            "sensor_msgs/BatteryState",
            {
                "header": self._header("/battery", stamp, "base_link"),
                "voltage": 10.5 + 2.1 * self.battery,
                "current": -0.5 - 1.5 * abs(self.linear),
                "charge": 5.2 * self.battery,
                "capacity": 5.2,
                "design_capacity": 5.2,
                "percentage": self.battery,
                "power_supply_status": 2,  # DISCHARGING
                "power_supply_health": 1,  # GOOD
                "power_supply_technology": 3,  # LIPO
                "present": True,
            },
        )
