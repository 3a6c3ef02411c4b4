"""The REST API over real HTTP against the simulated robot (rosweb's Tornado server)."""

from __future__ import annotations

import base64
import math
import time

import pytest
import requests

from helpers import LiveServer, assert_error, wait_for

pytestmark = pytest.mark.integration


def get(server: LiveServer, path: str, **kwargs: object) -> requests.Response:
    return requests.get(server.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]


def post(server: LiveServer, path: str, body: object = None, **kwargs: object) -> requests.Response:
    return requests.post(server.url + path, json=body, timeout=10, **kwargs)  # type: ignore[arg-type]


def odom(server: LiveServer) -> dict:  # type: ignore[type-arg]
    response = get(server, "/api/topics/odom")
    assert response.status_code == 200, response.text
    return response.json()["msg"]  # type: ignore[no-any-return]


def position_x(server: LiveServer) -> float:
    return float(odom(server)["pose"]["pose"]["position"]["x"])


def test_the_readme_curl_session(live_server: LiveServer) -> None:
    topics = {t["name"]: t["type"] for t in get(live_server, "/api/topics").json()["topics"]}
    assert topics["/cmd_vel"] == "geometry_msgs/Twist"
    assert topics["/odom"] == "nav_msgs/Odometry"
    assert topics["/scan"] == "sensor_msgs/LaserScan"
    assert topics["/camera/image_raw"] == "sensor_msgs/Image"
    assert topics["/battery"] == "sensor_msgs/BatteryState"

    latest = get(live_server, "/api/topics/odom").json()
    assert latest["type"] == "nav_msgs/Odometry"
    start_x = latest["msg"]["pose"]["pose"]["position"]["x"]

    reply = post(live_server, "/api/teleop", {"command": "forward"})
    assert reply.status_code == 200
    assert reply.json()["twist"]["linear"]["x"] > 0
    wait_for(lambda: position_x(live_server) > start_x + 0.05)

    put = requests.put(live_server.url + "/api/params/robot/max_linear_speed", data="0.5",
                       headers={"content-type": "application/json"}, timeout=10)  # fmt: skip
    assert put.status_code == 200
    assert put.json() == 0.5
    assert get(live_server, "/api/params/robot/max_linear_speed").json() == 0.5

    reset = post(live_server, "/api/services/reset", {})
    assert reset.json()["response"]["success"] is True
    wait_for(lambda: abs(position_x(live_server) - 2.0) < 1e-6)

    schema = get(live_server, "/api/types/geometry_msgs/Twist").json()
    assert schema["md5sum"] == "9f195f881246fdfa2798d1d3eebca84a"
    assert [f["name"] for f in schema["fields"]] == ["linear", "angular"]


def test_deadman_stops_the_robot_after_one_command(live_server: LiveServer) -> None:
    post(live_server, "/api/teleop", {"command": "forward", "speed": 1.0})
    wait_for(lambda: odom(live_server)["twist"]["twist"]["linear"]["x"] > 0.1)
    # nobody repeats the command: within the 0.5 s deadman (plus a margin) the robot stands still
    wait_for(lambda: odom(live_server)["twist"]["twist"]["linear"]["x"] == 0.0, timeout=2)
    x = position_x(live_server)
    time.sleep(0.3)
    assert position_x(live_server) == pytest.approx(x, abs=1e-9)
    assert get(live_server, "/api/health").json()["teleop"]["deadman_stops"] >= 1


def test_held_command_keeps_the_robot_moving(live_server: LiveServer) -> None:
    start = position_x(live_server)
    for _ in range(10):
        post(live_server, "/api/teleop", {"command": "forward"})
        time.sleep(0.1)
    assert odom(live_server)["twist"]["twist"]["linear"]["x"] > 0.1
    assert position_x(live_server) - start > 0.2


def test_speed_param_takes_effect_live(live_server: LiveServer) -> None:
    requests.put(live_server.url + "/api/params/robot/max_linear_speed", json=0.1, timeout=10)
    post(live_server, "/api/topics/cmd_vel", {"linear": {"x": 1.0}})
    wait_for(lambda: odom(live_server)["twist"]["twist"]["linear"]["x"] > 0)
    assert odom(live_server)["twist"]["twist"]["linear"]["x"] == pytest.approx(0.1, abs=1e-6)


def test_publish_to_command_topic_is_clamped(live_server: LiveServer) -> None:
    reply = post(live_server, "/api/topics/cmd_vel", {"linear": {"x": 50.0}, "angular": {"z": -9}})
    assert reply.status_code == 200
    assert reply.json()["msg"]["linear"]["x"] == 1.0
    assert reply.json()["msg"]["angular"]["z"] == -2.0


def test_publish_creates_a_topic_with_a_type_and_reads_back(live_server: LiveServer) -> None:
    reply = post(live_server, "/api/topics/chatter?type=std_msgs/String", {"data": "hi"})
    assert reply.status_code == 200
    assert {"name": "/chatter", "type": "std_msgs/String"} in get(
        live_server, "/api/topics"
    ).json()["topics"]
    post(live_server, "/api/topics/note?type=std_msgs/String&latch=true", {"data": "latched"})
    assert get(live_server, "/api/topics/note").json()["msg"] == {"data": "latched"}


def test_camera_and_scan_are_real_data(live_server: LiveServer) -> None:
    image = get(live_server, "/api/topics/camera/image_raw").json()["msg"]
    assert (image["width"], image["height"], image["encoding"]) == (320, 240, "rgb8")
    assert len(base64.b64decode(image["data"])) == 320 * 240 * 3
    scan = get(live_server, "/api/topics/scan").json()["msg"]
    assert len(scan["ranges"]) == 360
    finite = [r for r in scan["ranges"] if r is not None]
    assert finite
    assert all(scan["range_min"] <= r <= scan["range_max"] for r in finite)
    battery = get(live_server, "/api/topics/battery").json()["msg"]
    assert 0 < battery["percentage"] <= 1


def test_headlights_service_changes_the_param(live_server: LiveServer) -> None:
    services = {s["name"]: s["type"] for s in get(live_server, "/api/services").json()["services"]}
    assert services == {"/reset": "std_srvs/Trigger", "/robot/headlights": "std_srvs/SetBool"}
    reply = post(live_server, "/api/services/robot/headlights", {"data": True})
    assert reply.json()["response"] == {"success": True, "message": "headlights on"}
    assert get(live_server, "/api/params/robot/headlights").json() is True


def test_params_list_meta_and_delete(live_server: LiveServer) -> None:
    body = get(live_server, "/api/params").json()
    assert "/robot/max_linear_speed" in body["params"]
    assert body["meta"]["/robot/max_linear_speed"]["max"] == 2.0
    requests.put(live_server.url + "/api/params/experiment/run", json={"id": 7}, timeout=10)
    assert get(live_server, "/api/params/experiment").json() == {"run": {"id": 7}}
    assert (
        requests.delete(live_server.url + "/api/params/experiment/run", timeout=10).status_code
        == 204
    )
    assert_error(get(live_server, "/api/params/experiment/run"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code", "field"),
    [
        ("GET", "/api/topics/no_such_topic", None, 404, "not_found", None),
        ("GET", "/api/topics/odom?timeout=soon", None, 400, "bad_parameter", "timeout"),
        (
            "POST",
            "/api/topics/cmd_vel",
            {"linear": {"x": "fast"}},
            422,
            "validation_error",
            "linear.x",
        ),
        ("POST", "/api/topics/cmd_vel", {"linar": {"x": 1}}, 422, "validation_error", "linar"),
        ("POST", "/api/topics/cmd_vel?type=std_msgs/String", {}, 409, "type_mismatch", None),
        ("POST", "/api/topics/new_topic", {}, 404, "not_found", None),
        ("POST", "/api/topics/new_topic?type=no_msgs/Nope", {}, 422, "unknown_type", "type"),
        ("POST", "/api/services/nope", {}, 404, "not_found", None),
        (
            "POST",
            "/api/services/robot/headlights",
            {"data": "yes"},
            422,
            "validation_error",
            "data",
        ),
        (
            "PUT",
            "/api/params/robot/max_linear_speed",
            "fast",
            422,
            "validation_error",
            "/robot/max_linear_speed",
        ),
        (
            "PUT",
            "/api/params/robot/max_linear_speed",
            99,
            422,
            "validation_error",
            "/robot/max_linear_speed",
        ),
        ("GET", "/api/params/nope", None, 404, "not_found", None),
        ("GET", "/api/types/nope_msgs/Nope", None, 404, "unknown_type", None),
        ("POST", "/api/teleop", {"command": "jump"}, 422, "validation_error", "command"),
        (
            "POST",
            "/api/teleop",
            {"command": "forward", "speed": 3},
            422,
            "validation_error",
            "speed",
        ),
        ("POST", "/api/teleop", {}, 422, "validation_error", "command"),
        ("POST", "/api/teleop", [1, 2], 422, "validation_error", None),
        ("GET", "/api/topics/bad%20name", None, 400, "bad_name", None),
        ("GET", "/api/nowhere", None, 404, "not_found", None),
        ("DELETE", "/api/topics", None, 405, "method_not_allowed", None),
    ],
)
def test_bad_requests_get_clear_json_errors(
    live_server: LiveServer,
    method: str,
    path: str,
    body: object,
    status: int,
    code: str,
    field: str | None,
) -> None:
    response = requests.request(method, live_server.url + path, json=body, timeout=10)
    assert_error(response, status, code, field)


def test_invalid_json_body_is_400(live_server: LiveServer) -> None:
    response = requests.post(live_server.url + "/api/topics/cmd_vel", data="{linear:", timeout=10,
                             headers={"content-type": "application/json"})  # fmt: skip
    assert_error(response, 400, "bad_json")


def test_latest_times_out_with_404_when_nothing_is_published(live_server: LiveServer) -> None:
    post(live_server, "/api/topics/silent?type=std_msgs/String", {"data": "x"})
    started = time.monotonic()
    assert_error(get(live_server, "/api/topics/silent?timeout=0.2"), 404, "no_message")
    assert time.monotonic() - started < 5


def test_health_and_nodes(live_server: LiveServer) -> None:
    health = get(live_server, "/api/health").json()
    assert health["ok"] is True
    assert health["backend"] == "sim://"
    assert get(live_server, "/api/nodes").json()["nodes"] == ["/rosweb", "/sim_robot"]


def test_robot_stops_at_walls(live_server: LiveServer) -> None:
    requests.put(live_server.url + "/api/params/robot/max_linear_speed", json=2.0, timeout=10)
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:  # hold full speed towards the box 3.5 m ahead
        post(live_server, "/api/topics/cmd_vel", {"linear": {"x": 1.0}})
        time.sleep(0.1)
    x = position_x(live_server)
    assert 5.5 - 0.2 <= x < 5.5  # the box's west face at x=5.5, robot radius 0.18
    scan = get(live_server, "/api/topics/scan").json()["msg"]
    ahead = scan["ranges"][len(scan["ranges"]) // 2]
    assert ahead is not None
    assert math.isclose(ahead, 5.5 - x, abs_tol=0.05)
