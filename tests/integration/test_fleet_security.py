"""A fleet on a locked-down broker: TLS, passwords or client certificates, and the project's
example ACL (``examples/mosquitto/rosweb.acl``), which confines each robot to its own subtree and
lets only the fleet server command."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_fleet_faults import RawClient, online

from helpers import wait_for
from mqtt_helpers import ACL_FILE, Mosquitto, RosWebProcess, make_certs, moved, pose

pytestmark = pytest.mark.integration
PASSWORDS = {"r1": "pw-r1", "r2": "pw-r2", "fleet": "pw-fleet"}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    return make_certs(tmp_path_factory.mktemp("certs"), ["broker", "r1", "fleet"])


def _env(user: str, ca: Path) -> dict[str, str]:
    return {
        "ROSWEB_FLEET_USERNAME": user,
        "ROSWEB_FLEET_PASSWORD": PASSWORDS[user],
        "ROSWEB_FLEET_CA": str(ca),
    }


@pytest.fixture(scope="module")
def locked(
    tmp_path_factory: pytest.TempPathFactory, certs: dict[str, tuple[Path, Path]]
) -> Iterator[tuple[Mosquitto, RosWebProcess, RosWebProcess]]:
    directory = tmp_path_factory.mktemp("locked")
    broker = Mosquitto(directory / "broker", users=PASSWORDS, acl=ACL_FILE, tls=certs).start()
    ca = certs["ca"][0]
    robot = RosWebProcess(
        ["--fleet", broker.url("mqtts", robot="r1")], directory / "r1.log", env=_env("r1", ca)
    ).start()
    server = RosWebProcess(
        ["--backend", broker.url("mqtts")], directory / "fleet.log", env=_env("fleet", ca)
    ).start()
    wait_for(lambda: online(server) == {"r1"}, timeout=20)
    yield broker, robot, server
    server.stop()
    robot.stop()
    broker.kill()


def _tls(certs: dict[str, tuple[Path, Path]], who: str | None = None) -> dict[str, Any]:
    tls: dict[str, Any] = {"ca_certs": str(certs["ca"][0]), "cert_reqs": ssl.CERT_REQUIRED}
    if who:
        tls.update(certfile=str(certs[who][0]), keyfile=str(certs[who][1]))
    return tls


def test_fleet_over_tls_with_passwords_drives_its_robot(
    locked: tuple[Mosquitto, RosWebProcess, RosWebProcess],
) -> None:
    _, robot, server = locked
    before = pose(robot)
    for _ in range(6):
        assert server.post("/robots/r1/api/teleop", {"command": "forward"}).status_code == 200
        time.sleep(0.1)
    assert moved(before, pose(robot)) > 0.03
    assert server.get("/api/health").json()["graph"]["broker"].startswith("mqtts://")


def test_acl_confines_a_robot_to_its_own_subtree(
    locked: tuple[Mosquitto, RosWebProcess, RosWebProcess], certs: dict[str, tuple[Path, Path]]
) -> None:
    broker, robot, server = locked
    watcher = RawClient(broker, username="fleet", password=PASSWORDS["fleet"], tls=_tls(certs))
    watcher.subscribe("rosweb/#")
    r2 = RawClient(broker, username="r2", password=PASSWORDS["r2"], tls=_tls(certs))
    try:
        time.sleep(0.5)
        watcher.messages.clear()
        before = pose(robot)
        now = time.time()
        twist = {"linear": {"x": 0.5}}
        r2.publish("rosweb/r1/status", {"robot": "r1", "online": False})  # pretend r1 left
        r2.publish(
            "rosweb/r1/cmd/drive", {"robot": "r1", "ts": now, "ttl": 0.5, "twist": twist}, qos=0
        )
        r2.publish(
            "rosweb/r1/req/set_param",
            {"robot": "r1", "ts": now, "ttl": 5, "name": "/robot/headlights", "value": True},
        )
        r2.publish("rosweb/fleet/estop", {"engaged": True, "by": "r2"})
        r2.publish("rosweb/r2/status", {"robot": "r2", "online": True, "topics": {}})  # its own
        wait_for(lambda: any(m.topic == "rosweb/r2/status" for m in watcher.messages))
        time.sleep(0.5)
        seen = {  # r1's telemetry, and its answers to the fleet server's own requests, are r1's
            m.topic
            for m in watcher.messages
            if not m.topic.startswith(("rosweb/r1/topic/", "rosweb/r1/resp/fleet-"))
        }
        assert "rosweb/r1/status" not in seen or all(  # the real r1 may say it again: online
            b'"online":true' in m.payload for m in watcher.messages if m.topic == "rosweb/r1/status"
        )
        assert seen <= {"rosweb/r2/status", "rosweb/r1/status", "rosweb/r1/control"}
        assert server.get("/api/robots/r1").json()["online"] is True
        assert robot.get("/api/control").json()["estop"] is None
        assert robot.get("/api/params/robot/headlights").json() is False
        assert moved(before, pose(robot)) < 0.005
        # the fleet itself may command r1 (positive control of the ACL)
        assert server.put("/api/params/r1/robot/headlights", True).status_code == 200
        assert robot.get("/api/params/robot/headlights").json() is True
        server.put("/api/params/r1/robot/headlights", False)
    finally:
        r2.close()
        watcher.close()


def test_client_certificates_name_the_robot(
    tmp_path: Path, certs: dict[str, tuple[Path, Path]]
) -> None:
    broker = Mosquitto(tmp_path / "broker", acl=ACL_FILE, tls=certs, client_certs=True).start()

    def cert_env(who: str) -> dict[str, str]:
        cert, key = certs[who]
        return {
            "ROSWEB_FLEET_CA": str(certs["ca"][0]),
            "ROSWEB_FLEET_CERT": str(cert),
            "ROSWEB_FLEET_KEY": str(key),
        }

    robot = RosWebProcess(
        ["--fleet", broker.url("mqtts", robot="r1")], tmp_path / "r1.log", env=cert_env("r1")
    )
    # the certificate says r1: claiming to be r3 gets nothing published
    liar = RosWebProcess(
        ["--fleet", broker.url("mqtts", robot="r3")], tmp_path / "r3.log", env=cert_env("r1")
    )
    server = RosWebProcess(
        ["--backend", broker.url("mqtts")], tmp_path / "fleet.log", env=cert_env("fleet")
    )
    try:
        for process in (robot, liar, server):
            process.start()
        wait_for(lambda: online(server) == {"r1"}, timeout=20)
        wait_for(lambda: server.get("/api/robots/r1").json()["pose"], timeout=10)
        time.sleep(2.5)  # a status scan of the liar has come and gone
        assert {r["name"] for r in server.get("/api/robots").json()["robots"]} == {"r1"}
    finally:
        server.stop()
        liar.stop()
        robot.stop()
        broker.kill()
