"""What a real robot publishes besides its sensors, for the simulated one: logs, diagnostics, TF
and a map, so that every panel of a dashboard has something to show.

- ``/rosout`` (rosgraph_msgs/Log): the robot's log lines (start, reset, bumping a wall, low
  battery, a goal received; its pose at debug level every 5 s), as rospy would publish them.
- ``/diagnostics`` (diagnostic_msgs/DiagnosticArray, 1 Hz): battery, drive, laser and camera.
- ``/tf`` (odom -> base_link, 20 Hz) and ``/tf_static`` (latched: map -> odom, base_link ->
  base_scan and camera), tf2_msgs/TFMessage.
- ``/map`` (nav_msgs/OccupancyGrid, latched): the room's walls at 0.1 m, unknown outside.
- it listens on ``/move_base_simple/goal`` (geometry_msgs/PoseStamped) and logs each goal.

On ROS 2 (``ros2=True``, the robot of ``rosweb sim --ros2``) the same in ROS 2's form: the log is
``rcl_interfaces/msg/Log`` (levels 10..50), times are ``{sec, nanosec}``, the goal topic is Nav2's
``/goal_pose``, and the node is the robot's own.
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any

import numpy as np

from rosweb.graph.base import Graph, Handle
from rosweb.graph.sim.bus import Bus
from rosweb.graph.sim.world import Pose, World
from rosweb.messages import Message, from_json
from rosweb.messages.ros2 import time_of

__all__ = ["GOAL_TOPIC", "LOG_LEVELS", "NODE", "ROS2_GOAL_TOPIC", "SimExtras", "occupancy"]

NODE = "/sim_robot"
GOAL_TOPIC = "/move_base_simple/goal"
ROS2_GOAL_TOPIC = "/goal_pose"  # where RViz 2's "2D Goal Pose" sends it (Nav2)
TF_RATE = 20.0
DIAGNOSTICS_RATE = 1.0
MAP_RESOLUTION = 0.1  # m per cell
MAP_MARGIN = 0.5  # m of unknown cells around the room
BUMP_LOG_INTERVAL = 2.0  # s between two "bumped into a wall" lines
POSE_LOG_INTERVAL = 5.0  # s between two debug lines with the pose
#: rosgraph_msgs/Log levels
LOG_LEVELS = {"debug": 1, "info": 2, "warn": 4, "error": 8, "fatal": 16}
#: rcl_interfaces/msg/Log levels (ROS 2)
ROS2_LOG_LEVELS = {"debug": 10, "info": 20, "warn": 30, "error": 40, "fatal": 50}
#: diagnostic_msgs/DiagnosticStatus levels
OK, WARN, ERROR = 0, 1, 2


def _transform(parent: str, child: str, stamp: dict[str, int], x: float, y: float, z: float,
               theta: float) -> dict[str, Any]:  # fmt: skip
    return {
        "header": {"stamp": stamp, "frame_id": parent},
        "child_frame_id": child,
        "transform": {
            "translation": {"x": x, "y": y, "z": z},
            "rotation": {"x": 0.0, "y": 0.0, "z": math.sin(theta / 2), "w": math.cos(theta / 2)},
        },
    }


def occupancy(world: World, resolution: float = MAP_RESOLUTION, margin: float = MAP_MARGIN
              ) -> tuple[float, float, int, int, list[int]]:  # fmt: skip
    """The world as an occupancy grid: (origin x, origin y, width, height, cells row-major from
    the bottom-left; 100 on a wall, 0 free inside the walls' bounds, -1 unknown around)."""
    walls = world.walls
    x0, y0 = float(walls[:, [0, 2]].min()), float(walls[:, [1, 3]].min())
    x1, y1 = float(walls[:, [0, 2]].max()), float(walls[:, [1, 3]].max())
    ox, oy = x0 - margin, y0 - margin
    width = math.ceil((x1 - x0 + 2 * margin) / resolution)
    height = math.ceil((y1 - y0 + 2 * margin) / resolution)
    grid = np.full((height, width), -1, dtype=np.int8)
    inside_x = slice(round((x0 - ox) / resolution), round((x1 - ox) / resolution))
    inside_y = slice(round((y0 - oy) / resolution), round((y1 - oy) / resolution))
    grid[inside_y, inside_x] = 0
    for ax, ay, bx, by in walls:
        steps = max(2, int(math.hypot(bx - ax, by - ay) / (resolution / 3)))
        t = np.linspace(0.0, 1.0, steps)
        cols = np.clip(((ax + t * (bx - ax) - ox) / resolution).astype(int), 0, width - 1)
        rows = np.clip(((ay + t * (by - ay) - oy) / resolution).astype(int), 0, height - 1)
        grid[rows, cols] = 100
    return ox, oy, width, height, grid.ravel().tolist()


class SimExtras:
    """The simulated robot's logs, diagnostics, TF and map (``tick`` from its loop)."""

    def __init__(
        self, bus: Bus | Graph, world: World, *, ros2: bool = False, node: str = NODE
    ) -> None:
        self.bus = bus
        self.world = world
        self.ros2 = ros2
        self._stamp = functools.partial(time_of, ros2=ros2)
        self._node: dict[str, str] = {} if ros2 else {"node": NODE}  # a ROS 2 graph is one node
        self._log_type = "rcl_interfaces/msg/Log" if ros2 else "rosgraph_msgs/Log"
        self._log_name = node.strip("/").replace("/", ".")  # rclpy's logger name of the node
        self.goals = 0
        self._next_tf = self._next_diagnostics = self._next_pose_log = 0.0
        self._last_bump = -math.inf
        self._battery_warned = False
        adverts = [
            ("/rosout", self._log_type, False),
            ("/diagnostics", "diagnostic_msgs/DiagnosticArray", False),
            ("/tf", "tf2_msgs/TFMessage", False),
            ("/tf_static", "tf2_msgs/TFMessage", True),
            ("/map", "nav_msgs/OccupancyGrid", True),
        ]
        self._handles: list[Handle] = [
            bus.advertise(topic, self._type(type_name), latch=latch, **self._node)
            for topic, type_name, latch in adverts
        ]
        goal = ROS2_GOAL_TOPIC if ros2 else GOAL_TOPIC
        pose_type = self._type("geometry_msgs/PoseStamped")
        self._handles.append(bus.subscribe(goal, self._on_goal, pose_type, **self._node))
        now = time.time()
        self._publish_static(now)
        self._publish_map(now)
        self.log("info", "simulated robot started: /cmd_vel drives it", "robot.start")

    def close(self) -> None:
        for handle in self._handles:
            handle.close()

    def _publish(self, topic: str, type_name: str, value: dict[str, Any], latch: bool = False
                 ) -> None:  # fmt: skip
        type_name = self._type(type_name)
        msg = from_json(self.bus.types, type_name, value)
        self.bus.publish(topic, type_name, msg, latch=latch, **self._node)

    def _type(self, name: str) -> str:
        return self.bus.types.canonical(name)

    # -- the log --------------------------------------------------------------------------------

    def log(self, level: str, text: str, function: str = "") -> None:
        """One line on /rosout, as rospy's ``rospy.loginfo`` and friends publish it (rclpy's
        logger on ROS 2)."""
        if self.ros2:
            line = {"stamp": self._stamp(time.time()), "level": ROS2_LOG_LEVELS[level],
                    "name": self._log_name, "msg": text,
                    "file": "robot.py", "function": function}  # fmt: skip
            self._publish("/rosout", self._log_type, line)
            return
        self._publish(
            "/rosout",
            "rosgraph_msgs/Log",
            {
                "header": {"stamp": self._stamp(time.time())},
                "level": LOG_LEVELS[level],
                "name": NODE,
                "msg": text,
                "file": "robot.py",
                "function": function,
                "topics": ["/cmd_vel", "/odom", "/scan", "/camera/image_raw", "/battery"],
            },
        )

    def _on_goal(self, msg: Message) -> None:
        self.goals += 1
        position = msg["pose"]["position"]
        q = msg["pose"]["orientation"]
        theta = math.atan2(2 * (q["w"] * q["z"] + q["x"] * q["y"]),
                           1 - 2 * (q["y"] ** 2 + q["z"] ** 2))  # fmt: skip
        self.log("info", f"goal received: x {position['x']:.2f} y {position['y']:.2f} "
                 f"heading {math.degrees(theta):.0f} deg in {msg['header']['frame_id'] or '?'}",
                 "on_goal")  # fmt: skip

    # -- the loop -------------------------------------------------------------------------------

    def tick(self, now: float, stamp: float, pose: Pose, collided: bool, battery: float,
             rates: dict[str, float]) -> None:  # fmt: skip
        """Called by the robot's loop: ``now`` monotonic, ``stamp`` wall-clock time."""
        if collided and now - self._last_bump > BUMP_LOG_INTERVAL:
            self._last_bump = now
            self.log("warn", f"bumped into a wall at x {pose.x:.2f} y {pose.y:.2f}", "step")
        if battery < 0.2 and not self._battery_warned:
            self._battery_warned = True
            self.log("error", f"battery low: {battery:.0%}", "battery")
        elif battery >= 0.25:
            self._battery_warned = False
        if now >= self._next_pose_log:
            self._next_pose_log = now + POSE_LOG_INTERVAL
            self.log("debug", f"pose x {pose.x:.2f} y {pose.y:.2f} "
                     f"heading {math.degrees(pose.theta):.0f} deg", "step")  # fmt: skip
        if now >= self._next_tf:
            self._next_tf = max(self._next_tf + 1.0 / TF_RATE, now - 0.5 / TF_RATE)
            tf = _transform("odom", "base_link", self._stamp(stamp), pose.x, pose.y, 0.0,
                            pose.theta)  # fmt: skip
            self._publish("/tf", "tf2_msgs/TFMessage", {"transforms": [tf]})
        if now >= self._next_diagnostics:
            self._next_diagnostics = now + 1.0 / DIAGNOSTICS_RATE
            self._publish_diagnostics(stamp, now, battery, rates)

    def _publish_static(self, now: float) -> None:
        transforms = [
            _transform("map", "odom", self._stamp(now), 0.0, 0.0, 0.0, 0.0),
            _transform("base_link", "base_scan", self._stamp(now), 0.0, 0.0, 0.2, 0.0),
            _transform("base_link", "camera", self._stamp(now), 0.1, 0.0, 0.4, 0.0),
        ]
        self._publish("/tf_static", "tf2_msgs/TFMessage", {"transforms": transforms}, latch=True)

    def _publish_map(self, now: float) -> None:
        ox, oy, width, height, cells = occupancy(self.world)
        info = {
            "map_load_time": self._stamp(now),
            "resolution": MAP_RESOLUTION,
            "width": width,
            "height": height,
            "origin": {"position": {"x": ox, "y": oy}, "orientation": {"w": 1.0}},
        }
        value = {"header": {"stamp": self._stamp(now), "frame_id": "map"}, "info": info,
                 "data": cells}  # fmt: skip
        self._publish("/map", "nav_msgs/OccupancyGrid", value, latch=True)

    def _publish_diagnostics(self, stamp: float, now: float, battery: float,
                             rates: dict[str, float]) -> None:  # fmt: skip
        level = OK if battery >= 0.3 else WARN if battery >= 0.15 else ERROR
        bumped = now - self._last_bump < 5.0
        statuses = [
            self._status("battery", level, "charge " + ("ok" if level == OK else "low"),
                         {"percentage": f"{battery:.1%}"}),
            self._status("drive", WARN if bumped else OK,
                         "stopped by a wall" if bumped else "ok", {"collisions": "recent" if
                         bumped else "none"}),
            self._status("laser", OK, "ok", {"rate": f"{rates.get('scan', 0):.1f} Hz"}),
            self._status("camera", OK, "ok", {"rate": f"{rates.get('camera', 0):.1f} Hz"}),
        ]  # fmt: skip
        self._publish("/diagnostics", "diagnostic_msgs/DiagnosticArray",
                      {"header": {"stamp": self._stamp(stamp)}, "status": statuses})  # fmt: skip

    @staticmethod
    def _status(name: str, level: int, message: str, values: dict[str, str]) -> dict[str, Any]:
        return {
            "level": level,
            "name": f"sim_robot: {name}",
            "message": message,
            "hardware_id": "sim",
            "values": [{"key": k, "value": v} for k, v in values.items()],
        }
