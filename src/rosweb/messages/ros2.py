"""What ROS 2 adds to the type store: its service set, RIHS01 type hashes, DDS type names, and the
pure helpers a ROS 2 robot needs (stamping a Twist for a ``TwistStamped`` command topic).

Type hashes follow REP-2016 as rosidl generates them, computed by rosbags' ``hash_rihs01`` on
the store's definitions with two things rosbags leaves out: ``char`` is described as ``uint8``
(rosidl's mapping; rosbags says ``char``), and a service is hashed as rosidl describes it, a
structure of ``request_message``, ``response_message`` and ``event_message`` (``Name_Event``:
``service_msgs/ServiceEventInfo info``, ``Name_Request[<=1] request``,
``Name_Response[<=1] response``). Checked against the hashes rmw_zenoh's design document
quotes (``std_msgs/msg/String``, ``example_interfaces/srv/AddTwoInts``).
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from rosbags.typesys.base import Nodetype  # type: ignore[attr-defined]
from rosbags.typesys.store import Typestore

__all__ = [
    "SERVICES",
    "dds_type_name",
    "now_stamp",
    "rihs01",
    "ros2_stamp",
    "ros2_type_name",
    "stamp_twist",
    "time_of",
]

#: services every ROS 2 store knows: std_srvs, the parameter services of rcl_interfaces (what
#: ``ros2 param`` calls on a node), example_interfaces' AddTwoInts (the demos' service)
SERVICES: dict[str, str] = {
    "std_srvs/srv/Empty": "---\n",
    "std_srvs/srv/Trigger": "---\nbool success\nstring message\n",
    "std_srvs/srv/SetBool": "bool data\n---\nbool success\nstring message\n",
    "example_interfaces/srv/AddTwoInts": "int64 a\nint64 b\n---\nint64 sum\n",
    "rcl_interfaces/srv/ListParameters": (
        "uint64 DEPTH_RECURSIVE=0\nstring[] prefixes\nuint64 depth\n---\n"
        "rcl_interfaces/ListParametersResult result\n"
    ),
    "rcl_interfaces/srv/GetParameters": (
        "string[] names\n---\nrcl_interfaces/ParameterValue[] values\n"
    ),
    "rcl_interfaces/srv/SetParameters": (
        "rcl_interfaces/Parameter[] parameters\n---\nrcl_interfaces/SetParametersResult[] results\n"
    ),
    "rcl_interfaces/srv/SetParametersAtomically": (
        "rcl_interfaces/Parameter[] parameters\n---\nrcl_interfaces/SetParametersResult result\n"
    ),
    "rcl_interfaces/srv/DescribeParameters": (
        "string[] names\n---\nrcl_interfaces/ParameterDescriptor[] descriptors\n"
    ),
    "rcl_interfaces/srv/GetParameterTypes": "string[] names\n---\nuint8[] types\n",
}

_EVENT_INFO = "service_msgs/msg/ServiceEventInfo"

Message = dict[str, Any]


def _as_rosidl(desc: tuple[Any, Any]) -> tuple[Any, Any]:
    """A rosbags field description with ``char`` described as rosidl does (``uint8``)."""
    kind, arg = desc
    if kind == Nodetype.BASE:
        return (kind, ("uint8", arg[1])) if arg[0] == "char" else desc
    if kind in (Nodetype.ARRAY, Nodetype.SEQUENCE):
        return (kind, (_as_rosidl(arg[0]), arg[1]))
    return desc


def rihs01(typestore: Typestore, name: str, *, service: bool = False) -> str:
    """The RIHS01 hash of message type ``name`` (or service ``pkg/srv/Name``) in ``typestore``."""
    defs = {
        key: (consts, [(field, _as_rosidl(desc)) for field, desc in fields])
        for key, (consts, fields) in typestore.fielddefs.items()
    }
    if service:
        request, response, event = f"{name}_Request", f"{name}_Response", f"{name}_Event"
        defs[event] = (
            [],
            [
                ("info", (Nodetype.NAME, _EVENT_INFO)),
                ("request", (Nodetype.SEQUENCE, ((Nodetype.NAME, request), 1))),
                ("response", (Nodetype.SEQUENCE, ((Nodetype.NAME, response), 1))),
            ],
        )
        defs[name] = (
            [],
            [
                ("request_message", (Nodetype.NAME, request)),
                ("response_message", (Nodetype.NAME, response)),
                ("event_message", (Nodetype.NAME, event)),
            ],
        )
    digest: str = Typestore.hash_rihs01(SimpleNamespace(fielddefs=defs), name)  # type: ignore[arg-type]
    return digest


def dds_type_name(name: str) -> str:
    """``std_msgs/msg/String`` -> ``std_msgs::msg::dds_::String_`` (the name in key expressions)."""
    package, kind, base = name.strip("/").split("/")
    return f"{package}::{kind}::dds_::{base}_"


def ros2_type_name(dds_name: str) -> str:
    """The inverse of :func:`dds_type_name`; a name not in DDS form is returned unchanged."""
    parts = dds_name.split("::")
    if len(parts) == 4 and parts[2] == "dds_" and parts[3].endswith("_"):
        return f"{parts[0]}/{parts[1]}/{parts[3][:-1]}"
    return dds_name


def ros2_stamp(seconds: float) -> dict[str, int]:
    """A ``builtin_interfaces/msg/Time`` (``{sec, nanosec}``) for a UNIX time in seconds."""
    sec = int(seconds // 1)
    return {"sec": sec, "nanosec": min(999_999_999, round((seconds - sec) * 1e9))}


def time_of(seconds: float, *, ros2: bool) -> dict[str, int]:
    """A time in a store's flavour: ROS 2's ``{sec, nanosec}`` or ROS 1's ``{secs, nsecs}``."""
    if ros2:
        return ros2_stamp(seconds)
    stamp = ros2_stamp(seconds)
    return {"secs": stamp["sec"], "nsecs": stamp["nanosec"]}


def now_stamp() -> dict[str, int]:
    """The current wall-clock time as a ``builtin_interfaces/msg/Time``."""
    return ros2_stamp(time.time())


def stamp_twist(
    twist: Message, *, frame_id: str = "base_link", stamp: float | None = None
) -> Message:
    """A ``geometry_msgs/msg/TwistStamped`` carrying ``twist`` (a validated Twist), stamped now
    (or at ``stamp``, UNIX seconds): what a ``TwistStamped`` command topic (Jazzy's Nav2) takes.
    Pure: control calls it on the clamped Twist just before publishing."""
    seconds = time.time() if stamp is None else stamp
    return {"header": {"stamp": ros2_stamp(seconds), "frame_id": frame_id}, "twist": twist}
