"""A fleet session: three simulated robots (``rosweb run --fleet``, each its own process) and a
fleet server (``rosweb run --backend mqtt://``) on one real mosquitto.

Each robot is also checked through its own REST API (its own port), as its operator on site
would: what the fleet says must be what the robot did.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from PIL import Image

from helpers import wait_for
from mqtt_helpers import Mosquitto, RosWebProcess, moved, pose
from rosweb import Client

pytestmark = pytest.mark.integration
NAMES = ("r1", "r2", "r3")
STILL = 0.01  # m: a robot nobody drove moves less than this


@dataclass
class Fleet:
    broker: Mosquitto
    robots: dict[str, RosWebProcess]
    server: RosWebProcess

    def teleop(self, name: str, command: str = "forward", client: str = "tab-a") -> object:
        return self.server.post(
            f"/robots/{name}/api/teleop", {"command": command}, headers={"X-Rosweb-Client": client}
        )

    def drive_for(self, name: str, seconds: float, client: str = "tab-a") -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            answer = self.teleop(name, client=client)
            assert answer.status_code == 200, answer.text
            time.sleep(0.1)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    directory = tmp_path_factory.mktemp("fleet")
    broker = Mosquitto(directory / "broker").start()
    robots = {
        name: RosWebProcess(
            ["--fleet", broker.url(robot=name)],
            directory / f"{name}.log",
            env={"ROSWEB_FLEET_TOPICS": '["/odom@10", "/battery@1", "/camera/image_raw@2"]'},
        )
        for name in NAMES
    }
    server = RosWebProcess(["--backend", broker.url()], directory / "fleet.log")
    try:
        for robot in robots.values():
            robot.start(wait=False)
        server.start()
        for robot in robots.values():
            wait_for(robot.is_up, timeout=30)
        wait_for(
            lambda: (
                len(
                    [
                        r
                        for r in server.get("/api/robots").json()["robots"]
                        if r["online"] and r["pose"] and r["battery"]
                    ]
                )
                == 3
            ),
            timeout=20,
        )
        yield Fleet(broker, robots, server)
    finally:
        server.stop()
        for robot in robots.values():
            robot.stop()
        broker.kill()


@pytest.fixture
def fresh(fleet: Fleet) -> Fleet:
    """Every robot at its start pose, no e-stop, nobody holding its lease."""
    fleet.server.delete("/api/estop")
    for name, robot in fleet.robots.items():
        wait_for(lambda robot=robot: not robot.get("/api/control").json()["estop"], timeout=5)
        robot.delete("/api/control?force=true")
        assert fleet.server.post(f"/api/services/{name}/reset", {}).status_code == 200
    return fleet


def test_lists_every_robot_under_its_namespace(fleet: Fleet) -> None:
    cards = {c["name"]: c for c in fleet.server.get("/api/robots").json()["robots"]}
    assert set(cards) == set(NAMES)
    for name, card in cards.items():
        assert card["online"] is True
        assert card["camera"] == f"/{name}/camera/image_raw"
        assert 0.0 < card["battery"]["percentage"] <= 1.0
        assert card["pose"]["topic"] == f"/{name}/odom"
    topics = {t["name"]: t["type"] for t in fleet.server.get("/api/topics").json()["topics"]}
    for name in NAMES:
        assert topics[f"/{name}/odom"] == "nav_msgs/Odometry"
        assert topics[f"/{name}/cmd_vel"] == "geometry_msgs/Twist"
        assert topics[f"/{name}/camera/image_raw"] == "sensor_msgs/CompressedImage"
    scoped = fleet.server.get("/robots/r2/api/topics").json()["topics"]
    assert scoped
    assert all(t["name"].startswith("/r2/") for t in scoped)
    services = {s["name"] for s in fleet.server.get("/robots/r2/api/services").json()["services"]}
    assert {"/r2/reset", "/r2/robot/headlights"} <= services


def test_drive_one_robot_only_it_moves(fresh: Fleet) -> None:
    before = {name: pose(robot) for name, robot in fresh.robots.items()}
    fresh.drive_for("r2", 1.0)
    time.sleep(0.5)  # the deadman stopped it: the pose settles
    after = {name: pose(robot) for name, robot in fresh.robots.items()}
    assert moved(before["r2"], after["r2"]) > 0.1
    assert moved(before["r1"], after["r1"]) < STILL
    assert moved(before["r3"], after["r3"]) < STILL
    # the fleet's card shows the pose the robot reports itself
    wait_for(
        lambda: abs(fresh.server.get("/api/robots/r2").json()["pose"]["x"] - after["r2"][0]) < 0.01,
        timeout=5,
    )
    # the robot's own control state names the person who drove, not the fleet
    assert fresh.robots["r2"].get("/api/control").json()["holder"] == "anonymous/tab-a"


def test_a_twist_published_to_a_robot_command_topic_drives_it(fresh: Fleet) -> None:
    before = pose(fresh.robots["r3"])
    end = time.monotonic() + 0.8
    while time.monotonic() < end:
        answer = fresh.server.post(
            "/api/topics/r3/cmd_vel", {"linear": {"x": 5.0}}, headers={"X-Rosweb-Client": "tab-pub"}
        )
        assert answer.status_code == 200, answer.text
        time.sleep(0.1)
    # clamped by the robot (ROSWEB_MAX_LINEAR_SPEED 1.0), not the 5 m/s asked for
    assert answer.json()["msg"]["linear"]["x"] == 1.0
    assert moved(before, pose(fresh.robots["r3"])) > 0.3


def test_camera_through_the_broker(fleet: Fleet) -> None:
    answer = fleet.server.get("/snapshot/r1/camera/image_raw.jpg")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(answer.content))
    assert image.size == (320, 240)  # ROSWEB_FLEET_JPEG_WIDTH
    small = Image.open(
        io.BytesIO(fleet.server.get("/snapshot/r1/camera/image_raw.jpg?width=160").content)
    )
    assert small.width == 160


def test_parameter_set_on_one_robot(fresh: Fleet) -> None:
    path = "/api/params/r3/robot/max_linear_speed"
    assert fresh.server.put(path, 0.7).status_code == 200
    try:
        assert fresh.robots["r3"].get("/api/params/robot/max_linear_speed").json() == 0.7
        assert fresh.robots["r1"].get("/api/params/robot/max_linear_speed").json() == 1.0
        assert fresh.server.get(path).json() == 0.7
        refused = fresh.server.put(path, 99.0)
        assert refused.status_code == 422, refused.text  # the robot's own range check
    finally:
        fresh.server.put(path, 1.0)


def test_service_call_on_one_robot(fresh: Fleet) -> None:
    answer = fresh.server.post("/api/services/r1/robot/headlights", {"data": True})
    assert answer.status_code == 200, answer.text
    assert answer.json()["response"]["success"] is True
    try:
        assert fresh.robots["r1"].get("/api/params/robot/headlights").json() is True
        assert fresh.robots["r2"].get("/api/params/robot/headlights").json() is False
    finally:
        fresh.server.post("/api/services/r1/robot/headlights", {"data": False})


def test_lease_is_held_per_robot(fresh: Fleet) -> None:
    assert fresh.teleop("r1", client="tab-a").status_code == 200
    taken = fresh.teleop("r1", client="tab-b")
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "control_held"
    assert taken.json()["error"]["holder"] == "anonymous/tab-a"
    assert fresh.teleop("r2", client="tab-b").status_code == 200  # another robot: free
    # the robot publishes its control state when it changes (looked at every 0.25 s)
    wait_for(
        lambda: fresh.server.get("/robots/r1/api/control").json()["holder"] == "anonymous/tab-a"
    )
    released = fresh.server.delete("/robots/r1/api/control", headers={"X-Rosweb-Client": "tab-a"})
    assert released.json()["released"] is True
    assert fresh.teleop("r1", client="tab-b").status_code == 200


def test_fleet_wide_estop_stops_every_robot(fresh: Fleet) -> None:
    fresh.teleop("r1", client="tab-a")
    fresh.teleop("r2", client="tab-b")
    engaged = fresh.server.post("/api/estop", None)
    assert engaged.status_code == 200
    assert engaged.json()["estop"]["by"] == "anonymous"
    for robot in fresh.robots.values():  # every robot latched its own e-stop
        wait_for(lambda robot=robot: robot.get("/api/control").json()["estop"], timeout=5)
        assert robot.get("/api/control").json()["estop"]["by"] == "fleet:anonymous"
    before = {name: pose(robot) for name, robot in fresh.robots.items()}
    refused = fresh.teleop("r3", client="tab-c")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "estop_engaged"
    time.sleep(0.5)
    for name, robot in fresh.robots.items():
        assert moved(before[name], pose(robot)) < STILL
    cleared = fresh.server.delete("/api/estop")
    assert cleared.json()["estop"] is None
    for robot in fresh.robots.values():
        wait_for(lambda robot=robot: robot.get("/api/control").json()["estop"] is None, timeout=5)
    assert fresh.teleop("r3", client="tab-c").status_code == 200


def test_client_and_websocket_address_one_robot_by_its_scope(fleet: Fleet) -> None:
    with Client(fleet.server.url + "/robots/r2") as robot:
        assert "/r2/odom" in robot.topics()
        assert "/r1/odom" not in robot.topics()
        with robot.subscribe("/r2/odom", limit=2, timeout=10) as messages:
            got = list(messages)
        assert len(got) == 2
        assert got[0]["pose"]["pose"]["position"]["z"] == 0.0
        assert robot.params["/r2/robot/scan_rate"] == 10.0
