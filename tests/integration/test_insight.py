"""The dashboard's insight routes on the simulated robot: rates and bandwidth counted by the
server, the node and topic graph, rosweb's event log; what the sim publishes for the panels."""

from __future__ import annotations

import math
from typing import Any

from flask.testing import FlaskClient

from helpers import assert_error, wait_for


def stats(client: FlaskClient, *topics: str) -> dict[str, dict[str, Any]]:
    query = "&".join(f"topic={t}" for t in topics)
    body = client.get(f"/api/stats/topics?{query}").json
    assert body is not None
    assert body["window"] > 0
    return {row["name"]: row for row in body["topics"]}


def test_rates_and_bandwidth_are_counted_by_the_server(client: FlaskClient) -> None:
    rows = wait_for(lambda: (r := stats(client)) and (r["/odom"]["rate"] or 0) > 20 and r,
                    timeout=10)  # fmt: skip
    odom = rows["/odom"]
    assert odom["type"] == "nav_msgs/Odometry"
    assert odom["subscribed"] is True
    assert 20 < odom["rate"] < 60  # the sim publishes /odom at 50 Hz
    assert odom["size"] == 713  # a nav_msgs/Odometry with frame ids odom and base_link
    assert odom["bandwidth"] == round(odom["size"] * odom["rate"], 1) or math.isclose(
        odom["bandwidth"], odom["size"] * odom["rate"], rel_tol=0.02
    )
    camera = rows["/camera/image_raw"]  # a heavy topic nobody watches is not downloaded
    assert camera["subscribed"] is False
    assert camera["rate"] is None
    only = stats(client, "/battery", "/nothing")
    assert list(only) == ["/battery"]


def test_a_watched_camera_is_counted(client: FlaskClient) -> None:
    with client.get("/stream/camera/image_raw.mjpg", buffered=False) as stream:
        next(stream.response)  # the stream subscribes the hub to the camera
        row = wait_for(lambda: (r := stats(client, "/camera/image_raw")["/camera/image_raw"])
                       and (r["rate"] or 0) > 2 and r, timeout=10)  # fmt: skip
    assert row["size"] > 320 * 240 * 3  # rgb8 320x240 and its header
    assert row["bandwidth"] > 2 * 230_400


def test_too_many_topics_asked_is_a_400(client: FlaskClient) -> None:
    query = "&".join(f"topic=/t{i}" for i in range(300))
    assert_error(client.get(f"/api/stats/topics?{query}"), 400, "bad_parameter", "topic")


def test_graph_names_who_publishes_and_subscribes(client: FlaskClient) -> None:
    body = client.get("/api/graph").json
    assert body is not None
    assert body["available"] is True
    assert set(body["nodes"]) == {"/rosweb", "/sim_robot"}
    topics = {t["name"]: t for t in body["topics"]}
    assert topics["/odom"]["publishers"] == ["/sim_robot"]
    assert "/sim_robot" in topics["/cmd_vel"]["subscribers"]
    assert "/sim_robot" in topics["/move_base_simple/goal"]["subscribers"]
    for name in ("/rosout", "/diagnostics", "/tf", "/tf_static", "/map"):
        assert topics[name]["publishers"] == ["/sim_robot"], name
    services = {s["name"]: s for s in body["services"]}
    assert services["/reset"] == {"name": "/reset", "type": "std_srvs/Trigger",
                                  "providers": ["/sim_robot"]}  # fmt: skip


def test_the_event_log_has_estops_and_lease_changes(client: FlaskClient) -> None:
    last = client.get("/api/log").json["last"]
    client.post("/api/control", json={})
    client.post("/api/estop")
    client.delete("/api/estop")
    client.delete("/api/control")
    body = client.get(f"/api/log?after={last}").json
    texts = [e["msg"] for e in body["events"]]
    assert "anonymous took control" in texts, texts
    assert "anonymous released control" in texts, texts
    assert any("e-stop engaged" in t for t in texts)
    assert any("e-stop cleared" in t for t in texts)
    assert all(e["seq"] > last for e in body["events"])
    assert body["last"] >= last + 3
    assert client.get(f"/api/log?after={body['last']}").json["events"] == []
    assert_error(client.get("/api/log?after=-1"), 400, "bad_parameter", "after")


def test_the_deadman_stop_is_an_event(client: FlaskClient) -> None:
    last = client.get("/api/log").json["last"]
    client.post("/api/teleop", json={"command": "forward"})
    wait_for(lambda: any("deadman" in e["msg"] for e in
                         client.get(f"/api/log?after={last}").json["events"]))  # fmt: skip


def test_the_sim_publishes_log_diagnostics_tf_and_a_map(client: FlaskClient) -> None:
    client.post("/api/services/reset", json={})
    rosout = wait_for(lambda: client.get("/api/topics/rosout?timeout=2").json)
    assert rosout["msg"]["name"] == "/sim_robot"
    diagnostics = client.get("/api/topics/diagnostics?timeout=3").json["msg"]
    names = {s["name"] for s in diagnostics["status"]}
    assert {"sim_robot: battery", "sim_robot: drive", "sim_robot: laser"} <= names
    tf = client.get("/api/topics/tf?timeout=2").json["msg"]["transforms"][0]
    assert (tf["header"]["frame_id"], tf["child_frame_id"]) == ("odom", "base_link")
    static = client.get("/api/topics/tf_static?timeout=2").json["msg"]["transforms"]
    assert {t["child_frame_id"] for t in static} == {"odom", "base_scan", "camera"}
    grid = client.get("/api/topics/map?timeout=2").json["msg"]
    info = grid["info"]
    assert len(grid["data"]) == info["width"] * info["height"]
    assert set(grid["data"]) == {-1, 0, 100}  # unknown around, free inside, walls


def test_a_goal_pose_reaches_the_robot_and_is_logged(client: FlaskClient) -> None:
    goal = {"header": {"frame_id": "map"},
            "pose": {"position": {"x": 4.5, "y": 1.0}, "orientation": {"w": 1.0}}}  # fmt: skip
    response = client.post("/api/topics/move_base_simple/goal", json=goal)
    assert response.status_code == 200, response.json
    line = wait_for(lambda: (m := client.get("/api/topics/rosout").json["msg"]["msg"])
                    .startswith("goal") and m)  # fmt: skip
    assert line == "goal received: x 4.50 y 1.00 heading 0 deg in map"
