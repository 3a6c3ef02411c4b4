"""What the fleet knows of each robot: its retained status and control, its latest telemetry.

Every payload names its robot; one whose name differs from the topic's robot level is a forgery
(a robot writing into another's subtree, which the broker's ACL should already refuse) and is
dropped and counted, never shown.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from rosweb.errors import RosWebError, ValidationError
from rosweb.graph.mqtt.contract import JPEG, decode
from rosweb.graph.mqtt.link import Incoming
from rosweb.messages import Message, TypeStore, from_json

__all__ = ["RobotEntry", "decode_telemetry"]

COMPRESSED = "sensor_msgs/CompressedImage"


class RobotEntry:
    """One robot as the fleet sees it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.status: dict[str, Any] = {}
        self.control: dict[str, Any] = {}
        self.online = False
        self.changed = 0.0  #: when online last changed (wall clock)
        self.last_seen = 0.0  #: when anything last came from it (monotonic)
        #: ROS topic (robot's own name) -> (type, message, stamp)
        self.latest: dict[str, tuple[str, Message, float]] = {}
        self.lock = threading.Lock()

    def set_status(self, status: dict[str, Any]) -> None:
        online = bool(status.get("online"))
        with self.lock:
            if online != self.online or not self.changed:
                self.changed = time.time()
            self.online = online
            if online:
                self.status = status
            self.last_seen = time.monotonic()

    def topics(self) -> dict[str, str]:
        """The robot's topics (its own names) with types, images as the JPEG the fleet gets."""
        with self.lock:
            topics = dict(self.status.get("topics") or {})
            for topic, info in (self.status.get("telemetry") or {}).items():
                if info.get("jpeg"):
                    topics[topic] = COMPRESSED
        return topics

    def field(self, key: str, default: Any) -> Any:
        with self.lock:
            return self.status.get(key, default)

    def command_topics(self) -> list[str]:
        teleop = self.field("teleop", {}) or {}
        return list(teleop.get("command_topics") or [teleop.get("topic") or "/cmd_vel"])

    def card(self) -> dict[str, Any]:
        """What the fleet page shows of the robot; topic names in the fleet's namespace."""
        prefix = f"/{self.name}"
        with self.lock:
            latest = dict(self.latest)
            status, control, online = self.status, dict(self.control), self.online
        card: dict[str, Any] = {
            "name": self.name,
            "online": online,
            "since": round(self.changed, 3),
            "seen": round(time.monotonic() - self.last_seen, 3) if self.last_seen else None,
            "pose": None, "battery": None, "camera": None,
            "driver": control.get("user"), "holder": control.get("holder"),
            "estop": control.get("estop"), "moving": bool(control.get("moving")),
            "topics": len(status.get("topics") or {}),
            "url": f"/robots/{self.name}/",
        }  # fmt: skip
        for topic, (type_name, msg, _) in latest.items():
            if type_name == "nav_msgs/Odometry" and card["pose"] is None:
                pose = msg["pose"]["pose"]
                q = pose["orientation"]
                theta = math.atan2(2 * (q["w"] * q["z"] + q["x"] * q["y"]),
                                   1 - 2 * (q["y"] ** 2 + q["z"] ** 2))  # fmt: skip
                card["pose"] = {"x": pose["position"]["x"], "y": pose["position"]["y"],
                                "theta": theta, "topic": prefix + topic}  # fmt: skip
            elif type_name == "sensor_msgs/BatteryState" and card["battery"] is None:
                pct = msg["percentage"]
                card["battery"] = {
                    "percentage": None if pct is None or math.isnan(pct) else pct,
                    "voltage": msg["voltage"], "topic": prefix + topic,
                }  # fmt: skip
        for topic, info in sorted((status.get("telemetry") or {}).items()):
            if info.get("jpeg") and card["camera"] is None:
                card["camera"] = prefix + topic
        return card


def decode_telemetry(
    types: TypeStore, robot: str, incoming: Incoming, topic: str
) -> tuple[str, Message, float]:
    """(type, message, stamp) of one telemetry payload; ValidationError for a bad or forged
    one (``topic``: the ROS topic the MQTT topic names)."""
    if incoming.content_type == JPEG:
        named = incoming.user.get("robot")
        if named is not None and named != robot:
            raise ValidationError(f"an image naming robot {named!r} under {robot!r}", "robot")
        try:
            stamp = float(incoming.user.get("stamp", time.time()))
        except ValueError:
            stamp = time.time()
        secs = int(stamp)
        msg: Message = {
            "header": {"seq": 0, "stamp": {"secs": secs, "nsecs": int((stamp - secs) * 1e9)},
                       "frame_id": ""},
            "format": "jpeg",
            "data": incoming.payload,
        }  # fmt: skip
        return COMPRESSED, msg, stamp
    body = decode(incoming.payload, incoming.content_type)
    if not isinstance(body, dict):
        raise ValidationError("telemetry: expects an object")
    if body.get("robot") != robot:
        raise ValidationError(f"telemetry naming robot {body.get('robot')!r} under {robot!r}",
                              "robot")  # fmt: skip
    if body.get("topic") != topic:
        raise ValidationError(f"telemetry of {body.get('topic')!r} under {topic!r}", "topic")
    type_name = body.get("type")
    if not isinstance(type_name, str) or not types.has_message(type_name):
        raise ValidationError(f"telemetry of unknown type {type_name!r}", "type")
    try:
        return type_name, from_json(types, type_name, body.get("msg")), float(body["stamp"])
    except (RosWebError, TypeError, ValueError, KeyError) as err:
        raise ValidationError(f"telemetry of {topic}: {err}") from None
