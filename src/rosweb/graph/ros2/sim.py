"""The simulated robot as a ROS 2 node over Zenoh (``rosweb sim --ros2``).

The same world and robot as ``sim://`` (:class:`~rosweb.graph.sim.robot.SimRobot`), on a
:class:`Ros2Graph` whose node is ``/robot``: it subscribes ``/cmd_vel``
(``geometry_msgs/msg/Twist``, or ``TwistStamped`` with ``stamped=True``, as Jazzy's Nav2 sends),
publishes ``/odom``, ``/scan``, ``/camera/image_raw`` and ``/battery`` with ROS 2 headers, and
what the ROS 1 sim publishes besides (``/rosout``, ``/diagnostics``, ``/tf``, ``/tf_static``,
``/map``; goals on ``/goal_pose``: :mod:`rosweb.graph.sim.extras`), declares
its parameters on its node
(``max_linear_speed``, ... with ranges: ``ros2 param describe /robot max_linear_speed``; to
rosweb, ``/robot/max_linear_speed``) and provides ``/reset`` and ``/robot/headlights``.
"""

from __future__ import annotations

import threading
from typing import Any

from rosweb.graph.ros2.graph import Ros2Graph
from rosweb.graph.ros2.paramserver import Descriptor, ParamStore
from rosweb.graph.sim.extras import SimExtras
from rosweb.graph.sim.robot import PARAM_META, SimRobot, _boolean, _number_in
from rosweb.graph.sim.world import World
from rosweb.messages import Message, from_json
from rosweb.messages.ros2 import ros2_stamp

__all__ = ["NODE", "Ros2SimRobot", "start_sim"]

NODE = "/robot"


class Ros2SimRobot(SimRobot):
    """The simulated robot on a ROS 2 graph (``graph``'s node is the robot's node)."""

    def __init__(
        self, graph: Ros2Graph, world: World | None = None, *, stamped: bool = False
    ) -> None:
        self.bus = graph  # type: ignore[assignment]  # SimRobot publishes through bus.publish
        self.graph = graph
        self.world = world or World()
        self.pose = self.world.start
        self.linear = self.angular = 0.0
        self.battery = 1.0
        self._cmd = (0.0, 0.0)
        self._seq: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rosweb-ros2-sim", daemon=True)
        self.stamped = stamped
        self._collided = False
        self.store = graph.param_store
        for name, meta in PARAM_META.items():
            local = name.rpartition("/")[2]
            if "min" in meta:
                descriptor = Descriptor(meta["description"], meta["min"], meta["max"], meta["step"])
                validator = _number_in(meta["min"], meta["max"])
            else:
                descriptor, validator = Descriptor(meta["description"]), _boolean
            self.store.declare(local, meta["default"], descriptor, validator)
        cmd_type = "geometry_msgs/msg/TwistStamped" if stamped else "geometry_msgs/msg/Twist"
        self._handles = [
            graph.subscribe("/cmd_vel", self._on_cmd_vel, cmd_type),
            graph.advertise("/odom", "nav_msgs/msg/Odometry"),
            graph.advertise("/scan", "sensor_msgs/msg/LaserScan"),
            graph.advertise("/camera/image_raw", "sensor_msgs/msg/Image"),
            graph.advertise("/battery", "sensor_msgs/msg/BatteryState"),
            graph.provide_service("/reset", "std_srvs/srv/Trigger", self._on_reset),
            graph.provide_service("/robot/headlights", "std_srvs/srv/SetBool", self._on_headlights),
        ]
        self.extras = SimExtras(graph, self.world, ros2=True, node=graph.node_name)

    def _on_cmd_vel(self, msg: Message) -> None:
        twist = msg["twist"] if self.stamped else msg
        self._cmd = (twist["linear"]["x"], twist["angular"]["z"])

    def _on_headlights(self, request: Message) -> Message:
        self.store.set("headlights", {"type": 1, "bool_value": request["data"]})
        return {"success": True, "message": f"headlights {'on' if request['data'] else 'off'}"}

    def _param(self, name: str) -> Any:
        value = self.store.get(name.rpartition("/")[2])
        return PARAM_META[name]["default"] if value is None else value

    def _header(self, topic: str, stamp: float, frame_id: str) -> dict[str, Any]:
        return {"stamp": ros2_stamp(stamp), "frame_id": frame_id}

    def _publish(self, topic: str, type_name: str, value: dict[str, Any]) -> None:
        name = self.graph.types.canonical(type_name)
        self.graph.publish(topic, name, from_json(self.graph.types, name, value))


def start_sim(url: str = "ros2://", *, stamped: bool = False) -> tuple[Ros2Graph, Ros2SimRobot]:
    """The robot's graph (node ``/robot`` unless the URL names another) and the running robot."""
    if "node=" not in url:
        url += ("&" if "?" in url else "?") + f"node={NODE}"
    graph = Ros2Graph(url, param_store=ParamStore(allow_undeclared=False))
    try:
        robot = Ros2SimRobot(graph, stamped=stamped)
        robot.start()
    except Exception:
        graph.close()
        raise
    return graph, robot
