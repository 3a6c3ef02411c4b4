"""Unit tests for rosweb.messages.schema: describe() (GET /api/types/<type>) and rosapi typedefs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rosweb.messages import TypeStore, default, describe, to_jsonable, typedefs

SEPARATOR = "=" * 80


@pytest.fixture(scope="module")
def store() -> TypeStore:
    return TypeStore()


def by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


def typedef_of(defs: list[dict[str, Any]], type_name: str) -> dict[str, Any]:
    matches = [d for d in defs if d["type"] == type_name]
    assert len(matches) == 1, f"{type_name} listed {len(matches)} times"
    return matches[0]


# -- describe: messages --------------------------------------------------------------------------


def test_describe_battery_state_lists_constants(store: TypeStore) -> None:
    doc = describe(store, "sensor_msgs/BatteryState")
    assert doc["kind"] == "message"
    assert doc["type"] == "sensor_msgs/BatteryState"
    assert doc["md5sum"] == "4ddae7f048e32fda22cac764685e3974"
    constants = by_name(doc["constants"])
    assert constants["POWER_SUPPLY_STATUS_CHARGING"] == {
        "name": "POWER_SUPPLY_STATUS_CHARGING",
        "type": "uint8",
        "value": 1,
    }
    assert constants["POWER_SUPPLY_HEALTH_OVERHEAT"]["value"] == 2
    assert constants["POWER_SUPPLY_TECHNOLOGY_LIPO"]["value"] == 3
    assert len(doc["constants"]) == 21


def test_describe_battery_state_fields(store: TypeStore) -> None:
    fields = by_name(describe(store, "sensor_msgs/BatteryState")["fields"])
    assert list(fields)[:3] == ["header", "voltage", "temperature"]
    assert fields["voltage"] == {
        "name": "voltage",
        "type": "float32",
        "type_text": "float32",
        "array": False,
        "array_length": None,
        "builtin": True,
    }
    assert fields["cell_voltage"]["type"] == "float32"
    assert fields["cell_voltage"]["type_text"] == "float32[]"
    assert fields["cell_voltage"]["array"] is True
    assert fields["cell_voltage"]["array_length"] is None  # variable length
    assert fields["header"]["type"] == "std_msgs/Header"
    assert fields["header"]["builtin"] is False
    assert fields["present"]["type"] == "bool"


def test_describe_odometry_dependencies_and_fixed_array(store: TypeStore) -> None:
    doc = describe(store, "nav_msgs/Odometry")
    deps = doc["dependencies"]
    for name in (
        "std_msgs/Header",
        "geometry_msgs/PoseWithCovariance",
        "geometry_msgs/TwistWithCovariance",
        "geometry_msgs/Pose",
        "geometry_msgs/Point",
        "geometry_msgs/Quaternion",
        "geometry_msgs/Twist",
        "geometry_msgs/Vector3",
    ):
        assert name in deps
    assert "nav_msgs/Odometry" not in deps
    covariance = by_name(deps["geometry_msgs/PoseWithCovariance"]["fields"])["covariance"]
    assert covariance["type"] == "float64"
    assert covariance["type_text"] == "float64[36]"
    assert covariance["array"] is True
    assert covariance["array_length"] == 36
    assert deps["geometry_msgs/PoseWithCovariance"]["md5sum"] == (
        "c23e848cf1b7533a8d7c259073a97e6f"
    )
    header_fields = by_name(deps["std_msgs/Header"]["fields"])
    assert header_fields["stamp"]["type"] == "time"
    assert header_fields["stamp"]["builtin"] is True


def test_describe_odometry_definition_is_ros1_text(store: TypeStore) -> None:
    definition = describe(store, "nav_msgs/Odometry")["definition"]
    lines = definition.splitlines()
    assert lines[0].endswith(" header")
    assert "string child_frame_id" in lines
    assert f"{SEPARATOR}\nMSG: geometry_msgs/Pose\n" in definition
    assert f"{SEPARATOR}\nMSG: std_msgs/Header\n" in definition
    assert "float64[36] covariance" in lines
    assert "time stamp" in lines


def test_describe_default_is_jsonable_default(store: TypeStore) -> None:
    doc = describe(store, "sensor_msgs/Image")
    assert doc["default"] == to_jsonable(default(store, "sensor_msgs/Image"))
    assert doc["default"]["data"] == ""  # empty bytes as base64
    odom = describe(store, "nav_msgs/Odometry")["default"]
    assert odom["pose"]["covariance"] == [0.0] * 36


def test_describe_is_json_serializable(store: TypeStore) -> None:
    for name in ("nav_msgs/Odometry", "sensor_msgs/Image", "std_srvs/SetBool"):
        doc = describe(store, name)
        assert json.loads(json.dumps(doc, allow_nan=False)) == doc


def test_describe_accepts_ros2_style_name(store: TypeStore) -> None:
    doc = describe(store, "geometry_msgs/msg/Twist")
    assert doc["md5sum"] == "9f195f881246fdfa2798d1d3eebca84a"
    assert [f["name"] for f in doc["fields"]] == ["linear", "angular"]


# -- describe: services --------------------------------------------------------------------------


def test_describe_set_bool_service(store: TypeStore) -> None:
    doc = describe(store, "std_srvs/SetBool")
    assert doc["kind"] == "service"
    assert doc["type"] == "std_srvs/SetBool"
    assert doc["md5sum"] == "09fb03525b03e7ea1fd3992bafd87e16"
    request, response = doc["request"], doc["response"]
    assert request["type"] == "std_srvs/SetBoolRequest"
    assert [(f["name"], f["type"]) for f in request["fields"]] == [("data", "bool")]
    assert request["default"] == {"data": False}
    assert response["type"] == "std_srvs/SetBoolResponse"
    assert [(f["name"], f["type"]) for f in response["fields"]] == [
        ("success", "bool"),
        ("message", "string"),
    ]
    assert response["default"] == {"success": False, "message": ""}


def test_describe_empty_service(store: TypeStore) -> None:
    doc = describe(store, "std_srvs/Empty")
    assert doc["kind"] == "service"
    assert doc["request"]["fields"] == []
    assert doc["response"]["fields"] == []
    assert doc["request"]["default"] == {}


# -- typedefs (rosapi) ---------------------------------------------------------------------------


def test_typedefs_twist(store: TypeStore) -> None:
    defs = typedefs(store, "geometry_msgs/Twist")
    assert defs[0] == {
        "type": "geometry_msgs/Twist",
        "fieldnames": ["linear", "angular"],
        "fieldtypes": ["geometry_msgs/Vector3", "geometry_msgs/Vector3"],
        "fieldarraylen": [-1, -1],
        "examples": [{}, {}],
        "constnames": [],
        "constvalues": [],
    }
    vector = typedef_of(defs, "geometry_msgs/Vector3")
    assert vector["fieldnames"] == ["x", "y", "z"]
    assert vector["fieldtypes"] == ["float64"] * 3
    assert vector["fieldarraylen"] == [-1, -1, -1]
    assert len(defs) == 2


def test_typedefs_image(store: TypeStore) -> None:
    defs = typedefs(store, "sensor_msgs/Image")
    image = defs[0]
    assert image["type"] == "sensor_msgs/Image"
    data = image["fieldnames"].index("data")
    assert image["fieldtypes"][data] == "uint8"
    assert image["fieldarraylen"][data] == 0
    height = image["fieldnames"].index("height")
    assert (image["fieldtypes"][height], image["fieldarraylen"][height]) == ("uint32", -1)
    header = typedef_of(defs, "std_msgs/Header")
    assert header["fieldtypes"] == ["uint32", "time", "string"]
    assert {d["type"] for d in defs} == {"sensor_msgs/Image", "std_msgs/Header"}


def test_typedefs_fixed_array_and_constants(store: TypeStore) -> None:
    covariance = typedef_of(
        typedefs(store, "nav_msgs/Odometry"), "geometry_msgs/PoseWithCovariance"
    )
    assert covariance["fieldarraylen"] == [-1, 36]
    battery = typedefs(store, "sensor_msgs/BatteryState")[0]
    charging = battery["constnames"].index("POWER_SUPPLY_STATUS_CHARGING")
    assert battery["constvalues"][charging] == "1"
    assert len(battery["constnames"]) == len(battery["constvalues"]) == 21


def test_typedefs_lists_are_parallel(store: TypeStore) -> None:
    for entry in typedefs(store, "visualization_msgs/MarkerArray"):
        n = len(entry["fieldnames"])
        assert (
            len(entry["fieldtypes"]) == len(entry["fieldarraylen"]) == len(entry["examples"]) == n
        )
