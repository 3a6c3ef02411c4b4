"""Unit tests for rosweb.messages: the JSON form of ROS 1 messages.

The centre piece checks every message type of the store against a slow reference: a random
valid value goes through rosbags' ROS 1 serializer and back, field by field, and must come out
equal, so the JSON form carries exactly the information of the ROS 1 wire format.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import struct
from collections.abc import Callable
from typing import Any

import pytest

from reference import random_message, ros1_deserialize, ros1_serialize
from rosweb.errors import MessageError, UnknownTypeError, ValidationError
from rosweb.messages import TypeStore, default, describe, from_json, to_json, to_ros1, typedefs

ALL_TYPES = TypeStore().message_types()
SAMPLES_PER_TYPE = 3


@pytest.fixture(scope="module")
def store() -> TypeStore:
    """A shared store for tests that only read it."""
    return TypeStore()


@pytest.fixture
def fresh_store() -> TypeStore:
    """A store of its own for tests that register types."""
    return TypeStore()


def strict_loads(text: str) -> Any:
    """``json.loads`` that refuses NaN / Infinity, which are not JSON."""

    def refuse(name: str) -> Any:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def assert_round_trips(store: TypeStore, type_name: str, native: dict[str, Any]) -> None:
    """JSON text and the ROS 1 wire format both carry ``native`` unchanged."""
    assert from_json(store, type_name, strict_loads(to_json(native))) == native
    assert ros1_deserialize(store, type_name, ros1_serialize(store, type_name, native)) == native


# -- 1. round trip of every type -----------------------------------------------------------------


def test_store_has_the_ros1_noetic_set() -> None:
    assert len(ALL_TYPES) > 150
    for name in ("geometry_msgs/Twist", "sensor_msgs/Image", "std_srvs/SetBoolRequest"):
        assert name in ALL_TYPES
    assert "builtin_interfaces/Time" not in ALL_TYPES


@pytest.mark.parametrize("type_name", ALL_TYPES)
def test_every_type_round_trips_through_json_and_the_ros1_wire_format(
    store: TypeStore, type_name: str
) -> None:
    for sample in range(SAMPLES_PER_TYPE):
        native = random_message(store, type_name, random.Random(f"{type_name}#{sample}"))
        assert_round_trips(store, type_name, native)


@pytest.mark.parametrize("type_name", ALL_TYPES)
def test_wire_format_equals_the_reference_serializer(store: TypeStore, type_name: str) -> None:
    native = random_message(store, type_name, random.Random(f"wire:{type_name}"))
    assert to_ros1(store, type_name, native) == ros1_serialize(store, type_name, native)


def test_reference_serializer_matches_known_ros1_bytes(store: TypeStore) -> None:
    """Pins the reference to the ROS 1 wire format, including the full time/duration ranges."""
    header = {"seq": 7, "stamp": {"secs": 2**32 - 1, "nsecs": 5}, "frame_id": "map"}
    assert ros1_serialize(store, "std_msgs/Header", header) == (
        struct.pack("<III", 7, 2**32 - 1, 5) + struct.pack("<I", 3) + b"map"
    )
    duration = {"data": {"secs": -2, "nsecs": -1}}
    assert ros1_serialize(store, "std_msgs/Duration", duration) == struct.pack("<ii", -2, -1)
    image = default(store, "sensor_msgs/Image") | {"data": b"\x01\xff"}
    assert ros1_serialize(store, "sensor_msgs/Image", image).endswith(b"\x02\0\0\0\x01\xff")


# -- 2. md5sums ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "md5"),
    [
        ("std_msgs/String", "992ce8a1687cec8c8bd883ec73ca41d1"),
        ("std_msgs/Header", "2176decaecbce78abc3b96ef049fabed"),
        ("geometry_msgs/Twist", "9f195f881246fdfa2798d1d3eebca84a"),
        ("nav_msgs/Odometry", "cd5e73d190d741a2f92e81eda573aca7"),
        ("sensor_msgs/Image", "060021388200f6f0f447d0fcd9c64743"),
        ("sensor_msgs/LaserScan", "90c7ef2dc6895d81024acba2ac42f369"),
        ("sensor_msgs/BatteryState", "4ddae7f048e32fda22cac764685e3974"),
        ("geometry_msgs/Point", "4a842b65f413084dc2b10fb484ea7f17"),
        ("std_srvs/Empty", "d41d8cd98f00b204e9800998ecf8427e"),
        ("std_srvs/Trigger", "937c9679a518e3a18d831e57125ea522"),
        ("std_srvs/SetBool", "09fb03525b03e7ea1fd3992bafd87e16"),
        ("std_srvs/SetBoolRequest", "8b94c1b53db61fb6aed406028ad6332a"),
        ("std_srvs/SetBoolResponse", "937c9679a518e3a18d831e57125ea522"),
    ],
)
def test_md5sum_equals_real_ros1(store: TypeStore, type_name: str, md5: str) -> None:
    assert store.md5sum(type_name) == md5


def test_md5sum_accepts_the_ros2_style_name(store: TypeStore) -> None:
    assert store.md5sum("geometry_msgs/msg/Twist") == "9f195f881246fdfa2798d1d3eebca84a"


# -- 3. validation errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_name", "value", "field", "mentions"),
    [
        pytest.param(
            "nav_msgs/Path",
            {"poses": [{}, {"pose": {"position": {"x": "far"}}}]},
            "poses[1].pose.position.x",
            ("float64", '"far"'),
            id="wrong-type-deep-in-array",
        ),
        pytest.param(
            "geometry_msgs/Twist",
            {"linar": {"x": 1.0}},
            "linar",
            ("geometry_msgs/Twist", "no field", "linar"),
            id="unknown-field",
        ),
        pytest.param(
            "nav_msgs/Odometry",
            {"pose": {"covariance": [0.0] * 35}},
            "pose.covariance",
            ("float64[36]", "35"),
            id="fixed-array-wrong-length",
        ),
        pytest.param("std_msgs/UInt8", {"data": 300}, "data", ("uint8", "300"), id="uint8-300"),
        pytest.param("std_msgs/Int8", {"data": -129}, "data", ("int8", "-129"), id="int8--129"),
        pytest.param("std_msgs/UInt64", {"data": 2**64}, "data", ("uint64",), id="uint64-overflow"),
        pytest.param("std_msgs/Int32", {"data": 1.5}, "data", ("int32", "1.5"), id="fraction"),
        pytest.param("std_msgs/Int64", {"data": math.inf}, "data", ("int64",), id="int-inf"),
        pytest.param("std_msgs/Int32", {"data": None}, "data", ("int32",), id="int-null"),
        pytest.param("std_msgs/Int32", {"data": True}, "data", ("int32",), id="bool-for-int"),
        pytest.param("std_msgs/Float64", {"data": True}, "data", ("float64",), id="bool-for-float"),
        pytest.param("std_msgs/Bool", {"data": 1}, "data", ("bool",), id="number-for-bool"),
        pytest.param("std_msgs/String", {"data": 5}, "data", ("string",), id="number-for-str"),
        pytest.param(
            "std_msgs/Float32", {"data": 1e39}, "data", ("float32",), id="float32-overflow"
        ),
        pytest.param(
            "sensor_msgs/Image",
            {"data": "not base64!"},
            "data",
            ("uint8[]", "base64"),
            id="bad-base64",
        ),
        pytest.param(
            "sensor_msgs/Image",
            {"data": [0, 1, 256]},
            "data[2]",
            ("uint8", "256"),
            id="byte-list-item-too-big",
        ),
        pytest.param(
            "sensor_msgs/Image",
            {"data": [-1]},
            "data[0]",
            ("uint8", "-1"),
            id="byte-list-item-negative",
        ),
        pytest.param(
            "sensor_msgs/Image", {"data": 3}, "data", ("uint8[]", "base64"), id="number-for-bytes"
        ),
        pytest.param(
            "nav_msgs/Path",
            {"poses": {"pose": {}}},
            "poses",
            ("geometry_msgs/PoseStamped[]", "list"),
            id="object-for-array",
        ),
        pytest.param(
            "geometry_msgs/Twist",
            {"linear": "fast"},
            "linear",
            ("geometry_msgs/Vector3", "object"),
            id="string-for-object",
        ),
        pytest.param(
            "std_msgs/Header", {"stamp": 5}, "stamp", ("time", "secs"), id="number-for-time"
        ),
        pytest.param(
            "std_msgs/Header",
            {"stamp": {"secs": -1}},
            "stamp.secs",
            ("uint32", "-1"),
            id="negative-time",
        ),
        pytest.param(
            "std_msgs/Duration",
            {"data": {"secs": 1, "nsecs": 2**31}},
            "data.nsecs",
            ("int32",),
            id="duration-nsecs-overflow",
        ),
        pytest.param(
            "std_msgs/Header",
            {"stamp": {"secs": 1, "nsec": 5}},
            "stamp.nsec",
            ("time", "nsec"),
            id="unknown-field-in-time",
        ),
        pytest.param(
            "geometry_msgs/Twist", [1, 2], None, ("geometry_msgs/Twist", "object"), id="top-list"
        ),
        pytest.param(
            "geometry_msgs/Twist", "x", None, ("geometry_msgs/Twist", "object"), id="top-string"
        ),
    ],
)
def test_validation_error_names_field_and_expected_type(
    store: TypeStore, type_name: str, value: Any, field: str | None, mentions: tuple[str, ...]
) -> None:
    with pytest.raises(ValidationError) as info:
        from_json(store, type_name, value)
    assert info.value.field == field
    for text in mentions:
        assert text in str(info.value)
    assert info.value.reason in str(info.value)
    if field is not None:
        assert field in str(info.value)


def test_validation_error_is_a_message_error(store: TypeStore) -> None:
    with pytest.raises(MessageError):
        from_json(store, "std_msgs/UInt8", {"data": -1})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([0, 1, 255], b"\x00\x01\xff"),
        ([], b""),
        (base64.b64encode(b"\x00\x01\xff").decode(), b"\x00\x01\xff"),
        ("", b""),
        (b"raw", b"raw"),
    ],
)
def test_uint8_array_accepts_list_of_ints_and_base64(
    store: TypeStore, value: Any, expected: bytes
) -> None:
    assert from_json(store, "sensor_msgs/Image", {"data": value})["data"] == expected


@pytest.mark.parametrize(
    ("type_name", "value", "expected"),
    [
        ("std_msgs/Float64", {"data": 3}, 3.0),
        ("std_msgs/Int32", {"data": 3.0}, 3),
        ("std_msgs/UInt64", {"data": 2**64 - 1}, 2**64 - 1),
        ("std_msgs/Int8", {"data": -128}, -128),
        ("std_msgs/Float32", {"data": 3.4028234663852886e38}, 3.4028234663852886e38),
    ],
)
def test_edge_values_accepted(store: TypeStore, type_name: str, value: Any, expected: Any) -> None:
    data = from_json(store, type_name, value)["data"]
    assert data == expected
    assert type(data) is type(expected)


# -- 4. defaults ---------------------------------------------------------------------------------


def test_missing_fields_get_defaults(store: TypeStore) -> None:
    odom = from_json(store, "nav_msgs/Odometry", {})
    assert odom["pose"]["covariance"] == [0.0] * 36
    assert odom["twist"]["covariance"] == [0.0] * 36
    assert odom["header"] == {"seq": 0, "stamp": {"secs": 0, "nsecs": 0}, "frame_id": ""}
    assert odom["child_frame_id"] == ""
    assert odom["pose"]["pose"]["orientation"] == {"x": 0.0, "y": 0.0, "z": 0.0, "w": 0.0}


def test_partial_object_is_completed(store: TypeStore) -> None:
    twist = from_json(store, "geometry_msgs/Twist", {"linear": {"x": 0.5}})
    assert twist == {
        "linear": {"x": 0.5, "y": 0.0, "z": 0.0},
        "angular": {"x": 0.0, "y": 0.0, "z": 0.0},
    }


def test_null_message_is_the_default(store: TypeStore) -> None:
    assert from_json(store, "geometry_msgs/Twist", None) == default(store, "geometry_msgs/Twist")
    path = from_json(store, "nav_msgs/Path", {"poses": [None]})
    assert path["poses"] == [default(store, "geometry_msgs/PoseStamped")]


def test_default_equals_from_json_of_empty_object_for_every_type(store: TypeStore) -> None:
    for type_name in ALL_TYPES:
        assert default(store, type_name) == from_json(store, type_name, {}), type_name


def test_default_of_byte_array_is_bytes(store: TypeStore) -> None:
    assert default(store, "sensor_msgs/Image")["data"] == b""


def test_defaults_are_independent_copies(store: TypeStore) -> None:
    first = default(store, "nav_msgs/Odometry")
    first["pose"]["covariance"][0] = 1.0
    first["header"]["stamp"]["secs"] = 9
    second = default(store, "nav_msgs/Odometry")
    assert second["pose"]["covariance"][0] == 0.0
    assert second["header"]["stamp"]["secs"] == 0


# -- 5. JSON output ------------------------------------------------------------------------------


def test_non_finite_floats_become_null(store: TypeStore) -> None:
    scan = from_json(store, "sensor_msgs/LaserScan", {"ranges": [1.5, 2.0]})
    scan["ranges"] = [1.5, math.nan, math.inf, -math.inf]
    scan["range_max"] = math.inf
    parsed = strict_loads(to_json(scan))
    assert parsed["ranges"] == [1.5, None, None, None]
    assert parsed["range_max"] is None


def test_null_float_becomes_nan(store: TypeStore) -> None:
    scan = from_json(store, "sensor_msgs/LaserScan", {"ranges": [1.0, None], "range_max": None})
    assert scan["ranges"][0] == 1.0
    assert math.isnan(scan["ranges"][1])
    assert math.isnan(scan["range_max"])


def test_bytes_become_base64(store: TypeStore) -> None:
    data = bytes(range(256))
    image = from_json(store, "sensor_msgs/Image", {"data": data})
    parsed = strict_loads(to_json(image))
    assert isinstance(parsed["data"], str)
    assert base64.b64decode(parsed["data"], validate=True) == data


def test_a_camera_frame_and_its_neighbours_survive_to_json(store: TypeStore) -> None:
    """A frame long enough to be base64-encoded apart (spliced into the text) comes out as the
    same JSON as short bytes do, next to strings that look like anything, in lists too."""
    frame = bytes(range(256)) * 1200
    image = from_json(store, "sensor_msgs/Image", {"data": frame, "encoding": '\x00rgb8 "x"'})
    parsed = strict_loads(to_json(image))
    assert base64.b64decode(parsed["data"], validate=True) == frame
    assert parsed["encoding"] == '\x00rgb8 "x"'
    both = [frame, b"\x01\x02", bytearray(frame[:5000])]
    assert strict_loads(to_json({"blobs": both})) == {
        "blobs": [base64.b64encode(b).decode("ascii") for b in both]
    }


def test_to_json_output_is_strict_json_with_text_intact(store: TypeStore) -> None:
    msg = from_json(store, "std_msgs/String", {"data": 'héllo "🤖"\n\x00'})
    assert strict_loads(to_json(msg)) == {"data": 'héllo "🤖"\n\x00'}


# -- 6. registration and unknown types -----------------------------------------------------------

STATUS_MSG = """\
# A custom status message
uint8 MODE_IDLE=0
uint8 MODE_RUN=1
string ROBOT=rover
Header header
uint8 mode
float64[3] gains
uint8[4] tag
char[] note
geometry_msgs/Point[] path
"""
#: genmsg's md5 text of STATUS_MSG: constants, then fields with nested types as their md5s.
STATUS_MD5_TEXT = """\
uint8 MODE_IDLE=0
uint8 MODE_RUN=1
string ROBOT=rover
2176decaecbce78abc3b96ef049fabed header
uint8 mode
float64[3] gains
uint8[4] tag
char[] note
4a842b65f413084dc2b10fb484ea7f17 path"""


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def test_register_msg(fresh_store: TypeStore) -> None:
    fresh_store.register_msg("my_msgs/Status", STATUS_MSG)
    assert fresh_store.has_message("my_msgs/Status")
    assert "my_msgs/Status" in fresh_store.message_types()
    assert [(c.name, c.value) for c in fresh_store.constants("my_msgs/Status")] == [
        ("MODE_IDLE", 0),
        ("MODE_RUN", 1),
        ("ROBOT", "rover"),
    ]
    assert fresh_store.md5sum("my_msgs/Status") == md5(STATUS_MD5_TEXT)
    assert default(fresh_store, "my_msgs/Status") == {
        "header": {"seq": 0, "stamp": {"secs": 0, "nsecs": 0}, "frame_id": ""},
        "mode": 0,
        "gains": [0.0, 0.0, 0.0],
        "tag": b"\0\0\0\0",
        "note": b"",
        "path": [],
    }
    msg = from_json(
        fresh_store,
        "my_msgs/Status",
        {"mode": 1, "tag": [1, 2, 3, 4], "note": "aGk=", "path": [{"x": 1.0}]},
    )
    assert msg["tag"] == b"\x01\x02\x03\x04"
    assert msg["note"] == b"hi"
    assert msg["path"] == [{"x": 1.0, "y": 0.0, "z": 0.0}]
    assert_round_trips(fresh_store, "my_msgs/Status", msg)
    for sample in range(5):
        rng = random.Random(sample)
        assert_round_trips(
            fresh_store, "my_msgs/Status", random_message(fresh_store, "my_msgs/Status", rng)
        )


def test_registration_stays_in_its_own_store(fresh_store: TypeStore) -> None:
    fresh_store.register_msg("my_msgs/Status", STATUS_MSG)
    fresh_store.register_srv("my_srvs/Go", "---\nbool ok\n")
    other = TypeStore()
    assert not other.has_message("my_msgs/Status")
    assert not other.has_service("my_srvs/Go")
    with pytest.raises(UnknownTypeError):
        default(other, "my_msgs/Status")


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"tag": [1, 2, 3]}, "tag"),
        ({"tag": "AQID"}, "tag"),  # base64 of 3 bytes
        ({"gains": [1.0, 2.0]}, "gains"),
        ({"header": {"stamp": {"nsecs": -1}}}, "header.stamp.nsecs"),
        ({"path": [{}, {"z": "up"}]}, "path[1].z"),
    ],
)
def test_registered_type_is_validated(fresh_store: TypeStore, value: Any, field: str) -> None:
    fresh_store.register_msg("my_msgs/Status", STATUS_MSG)
    with pytest.raises(ValidationError) as info:
        from_json(fresh_store, "my_msgs/Status", value)
    assert info.value.field == field


def test_register_msg_accepts_the_ros2_style_name(fresh_store: TypeStore) -> None:
    fresh_store.register_msg("my_msgs/msg/Ping", "uint32 count\n")
    assert fresh_store.has_message("my_msgs/Ping")
    assert "my_msgs/Ping" in fresh_store.message_types()
    assert from_json(fresh_store, "my_msgs/Ping", {"count": 4}) == {"count": 4}


def test_register_srv(fresh_store: TypeStore) -> None:
    fresh_store.register_srv(
        "my_srvs/SetMode",
        "uint8 MODE_RUN=1\nuint8 mode\nfloat64[2] gains\n---\nbool ok\nstring why\n",
    )
    assert fresh_store.has_service("my_srvs/SetMode")
    assert "my_srvs/SetMode" in fresh_store.service_types()
    srv = fresh_store.service("my_srvs/SetMode")
    assert (srv.request, srv.response) == ("my_srvs/SetModeRequest", "my_srvs/SetModeResponse")
    request_md5_text = "uint8 MODE_RUN=1\nuint8 mode\nfloat64[2] gains"
    assert fresh_store.md5sum("my_srvs/SetModeRequest") == md5(request_md5_text)
    assert srv.md5sum == md5(request_md5_text + "bool ok\nstring why")
    assert fresh_store.md5sum("my_srvs/SetMode") == srv.md5sum
    assert from_json(fresh_store, srv.request, {"mode": 1}) == {"mode": 1, "gains": [0.0, 0.0]}
    assert default(fresh_store, srv.response) == {"ok": False, "why": ""}
    with pytest.raises(ValidationError) as info:
        from_json(fresh_store, srv.request, {"mode": 256})
    assert info.value.field == "mode"


def test_register_srv_without_separator_is_refused(fresh_store: TypeStore) -> None:
    with pytest.raises(MessageError, match="---"):
        fresh_store.register_srv("my_srvs/Broken", "bool data\n")
    assert not fresh_store.has_service("my_srvs/Broken")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("float64[ x\n", id="unparsable"),
        pytest.param("NoSuchType thing\n", id="unknown-nested-type"),
        pytest.param("int32 LIMIT=notanumber\n", id="int-constant-not-a-number"),
        pytest.param("float64 x y z\n", id="extra-tokens"),
    ],
)
def test_malformed_definition_raises_message_error(fresh_store: TypeStore, text: str) -> None:
    with pytest.raises(MessageError):
        fresh_store.register_msg("my_msgs/Broken", text)
    assert not fresh_store.has_message("my_msgs/Broken")


OPERATIONS: dict[str, Callable[[TypeStore, str], Any]] = {
    "from_json": lambda s, t: from_json(s, t, {}),
    "default": default,
    "describe": describe,
    "typedefs": typedefs,
    "fields": TypeStore.fields,
    "constants": TypeStore.constants,
    "definition": TypeStore.definition,
    "md5sum": TypeStore.md5sum,
    "service": TypeStore.service,
}


@pytest.mark.parametrize("operation", OPERATIONS.values(), ids=OPERATIONS.keys())
@pytest.mark.parametrize("type_name", ["nope_msgs/Nothing", "builtin_interfaces/Time"])
def test_unknown_type_raises(
    store: TypeStore, operation: Callable[[TypeStore, str], Any], type_name: str
) -> None:
    with pytest.raises(UnknownTypeError) as info:
        operation(store, type_name)
    assert info.value.type_name == type_name
    assert type_name in str(info.value)


def test_times_are_made_canonical_as_rospy_does(store: TypeStore) -> None:
    header = from_json(store, "std_msgs/Header", {"stamp": {"secs": 1, "nsecs": 2_500_000_000}})
    assert header["stamp"] == {"secs": 3, "nsecs": 500_000_000}
    duration = from_json(store, "std_msgs/Duration", {"data": {"secs": 0, "nsecs": -1}})
    assert duration["data"] == {"secs": -1, "nsecs": 999_999_999}
    with pytest.raises(ValidationError) as err:
        from_json(store, "std_msgs/Time", {"data": {"secs": 2**32 - 1, "nsecs": 10**9}})
    assert err.value.field == "data.secs"
