"""ROS 2 type stores against rosbags (the reference) and rmw_zenoh's published hashes."""

from __future__ import annotations

import pytest

from rosweb.errors import MessageError
from rosweb.graph.ros2.keys import Attachment, Qos, entity_token, parse_token
from rosweb.messages import TypeStore, default, from_json
from rosweb.messages.cdr import CdrCodec
from rosweb.messages.ros2 import dds_type_name, stamp_twist

JAZZY = TypeStore(distro="jazzy")
CODEC = CdrCodec(JAZZY)


def _has_char(store: TypeStore, name: str) -> bool:
    return any(
        desc[1][0] == "char" if desc[0] == 1 else "char" in str(desc)
        for _field, desc in store.fielddefs(name)[1]
    ) or any(_has_char(store, dep) for dep in store.dependencies(name))


@pytest.mark.parametrize("name", JAZZY.message_types())
def test_cdr_bytes_and_type_hash_equal_rosbags(name: str) -> None:
    reference = JAZZY.rosbags
    msg = default(JAZZY, name)
    data = CODEC.encode(name, msg)
    assert CODEC.decode(name, data) == msg
    obj = reference.deserialize_cdr(data, name)  # rosbags reads what rosweb wrote ...
    assert bytes(reference.serialize_cdr(obj, name)) == data  # ... and writes the same bytes
    if not _has_char(JAZZY, name):  # rosidl describes char as uint8, rosbags as char
        assert JAZZY.type_hash(name) == reference.hash_rihs01(name)


def test_hashes_quoted_by_rmw_zenoh_design() -> None:
    assert JAZZY.type_hash("std_msgs/msg/String") == (
        "RIHS01_df668c740482bbd48fb39d76a70dfd4bd59db1288021743503259e948f6b1a18"
    )
    assert JAZZY.type_hash("example_interfaces/srv/AddTwoInts") == (
        "RIHS01_e118de6bf5eeb66a2491b5bda11202e7b68f198d6f67922cf30364858239c81a"
    )
    assert TypeStore(distro="humble").type_hash("std_msgs/msg/String") == "TypeHashNotSupported"


def test_ros2_json_form_and_names() -> None:
    assert JAZZY.canonical("geometry_msgs/Twist") == "geometry_msgs/msg/Twist"
    assert JAZZY.canonical("std_srvs/SetBool") == "std_srvs/srv/SetBool"
    assert TypeStore().canonical("geometry_msgs/msg/Twist") == "geometry_msgs/Twist"
    header = from_json(JAZZY, "std_msgs/Header", {"stamp": {"sec": 3}})
    assert header == {"stamp": {"sec": 3, "nanosec": 0}, "frame_id": ""}
    assert dds_type_name("std_msgs/msg/String") == "std_msgs::msg::dds_::String_"
    with pytest.raises(MessageError):
        CODEC.decode("sensor_msgs/msg/Image", b"\x00\x01\x00\x00\x01")


def test_stamp_twist_wraps_a_twist_for_a_twist_stamped_topic() -> None:
    twist = from_json(JAZZY, "geometry_msgs/msg/Twist", {"linear": {"x": 0.2}})
    stamped = stamp_twist(twist, frame_id="base_link", stamp=12.5)
    assert from_json(JAZZY, "geometry_msgs/msg/TwistStamped", stamped) == {
        "header": {"stamp": {"sec": 12, "nanosec": 500_000_000}, "frame_id": "base_link"},
        "twist": twist,
    }


def test_tokens_round_trip_and_attachment() -> None:
    latched = Qos(transient_local=True, depth=1)
    key = entity_token(0, "abc", 0, 7, "MP", "/", "rosweb", "/robot1/chatter",
                       "std_msgs::msg::dds_::String_", "RIHS01_x", latched)  # fmt: skip
    assert key == ("@ros2_lv/0/abc/0/7/MP/%/%/rosweb/%robot1%chatter/std_msgs::msg::dds_::String_/"
                   "RIHS01_x/:1:,1:,:,:,,")  # fmt: skip
    entity = parse_token(key)
    assert entity is not None
    assert (entity.name, entity.node_fqn, entity.qos) == (
        "/robot1/chatter",
        "/rosweb",
        Qos(True, True, 1),
    )
    assert parse_token("@ros2_lv/0/abc") is None
    att = Attachment(5, 123, bytes(range(16)))
    assert Attachment.decode(att.encode()) == att
    assert len(att.encode()) == 33
