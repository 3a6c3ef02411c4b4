"""Guards that were bypassed or answered 500 (#12.5, #12.8, #12.10), against ``rosweb run`` with
users: parameter deny globs through the namespace, motion services under the e-stop, deep JSON
and huge integers, what a viewer's health lists, tokens in the access log, logout."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import websocket

from helpers import wait_for
from reliability.procs import Served

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

ALICE = {"Authorization": "Bearer alice-token"}  # operator, denied /robot/max_*
VIC = {"Authorization": "Bearer vic-token"}  # viewer, /scan hidden
ROOT = {"Authorization": "Bearer root-token"}  # admin


@pytest.fixture(scope="module")
def server(
    module_servers: Callable[..., Served], tmp_path_factory: pytest.TempPathFactory
) -> Served:
    from rosweb.web.auth import hash_password, hash_token

    config = Path(tmp_path_factory.mktemp("config")) / "rosweb.toml"
    config.write_text(
        f'[users.alice]\nrole = "operator"\npassword = "{hash_password("pw-alice")}"\n'
        f'tokens = ["{hash_token("alice-token")}"]\n'
        f'[users.vic]\nrole = "viewer"\ntokens = ["{hash_token("vic-token")}"]\n'
        f'[users.root]\nrole = "admin"\ntokens = ["{hash_token("root-token")}"]\n'
        '[roles.operator]\ndeny_params = ["/robot/max_*"]\n'
        '[roles.viewer]\ndeny_topics = ["/scan"]\n'
    )
    # access lines are logged at debug level: the token test reads them
    return module_servers("--config", str(config), "--log-level", "debug", headers=ROOT)


def ws(server: Served, token: str) -> websocket.WebSocket:
    return websocket.create_connection(f"{server.ws}?token={token}", timeout=10)


def reply_to(socket: websocket.WebSocket, message: dict[str, object]) -> dict[str, object]:
    """Send an op; its answer (a status or a service_response with the same id)."""
    socket.send(json.dumps(message))
    while True:
        answer: dict[str, object] = json.loads(socket.recv())
        if answer.get("id") == message["id"]:
            return answer


# -- #12.5: parameter deny globs through the namespace --------------------------------------------


def test_a_namespace_write_with_a_denied_name_is_refused_everywhere(server: Served) -> None:
    robot = server.get("/api/params/robot", headers=ROOT).json()
    put = requests.put(server.url + "/api/params/robot", json={"max_linear_speed": 0.05},
                       headers=ALICE, timeout=10)  # fmt: skip
    assert put.status_code == 403, put.text
    delete = requests.delete(server.url + "/api/params/robot", headers=ALICE, timeout=10)
    assert delete.status_code == 403, delete.text
    socket = ws(server, "alice-token")
    try:
        for service, args in (
            ("/rosapi/set_param", {"name": "/robot", "value": '{"max_linear_speed": 0.05}'}),
            ("/rosapi/delete_param", {"name": "/robot"}),
        ):
            answer = reply_to(socket, {"op": "call_service", "service": service, "args": args,
                                       "id": service})  # fmt: skip
            assert answer.get("result") is not True, answer
    finally:
        socket.close()
    assert server.get("/api/params/robot", headers=ROOT).json() == robot  # nothing changed


def test_a_namespace_write_merges_and_keeps_the_other_names(server: Served) -> None:
    robot = server.get("/api/params/robot", headers=ROOT).json()
    put = requests.put(server.url + "/api/params/robot", json={"scan_rate": 5.0},
                       headers=ROOT, timeout=10)  # fmt: skip
    assert put.status_code == 200, put.text
    after = server.get("/api/params/robot", headers=ROOT).json()
    assert after == {**robot, "scan_rate": 5.0}  # the siblings are still there
    requests.put(server.url + "/api/params/robot/scan_rate", json=robot["scan_rate"],
                 headers=ROOT, timeout=10)  # fmt: skip


# -- #12.10: motion services obey the e-stop ------------------------------------------------------


def position(server: Served) -> float:
    odom = server.get("/api/topics/odom", headers=ROOT).json()["msg"]
    return float(odom["pose"]["pose"]["position"]["x"])


def test_a_motion_service_is_refused_while_the_estop_is_engaged(server: Served) -> None:
    from rosweb import Client
    from rosweb.errors import EStopEngaged

    server.post("/api/services/reset", {}, headers=ALICE)
    start = position(server)

    def forward() -> bool:  # away from the start
        server.post("/api/teleop", {"command": "forward"}, headers=ALICE)
        return abs(position(server) - start) > 0.05

    wait_for(forward, timeout=10, interval=0.1)
    assert server.post("/api/estop", headers=VIC).status_code == 200  # a viewer may press it
    try:
        moved = position(server)
        refused = server.post("/api/services/reset", {}, headers=ALICE)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "estop_engaged"
        socket = ws(server, "alice-token")
        try:
            answer = reply_to(socket, {"op": "call_service", "service": "/reset", "id": "r"})
            assert answer.get("result") is not True, answer
        finally:
            socket.close()
        with Client(server.url, token="alice-token") as client, pytest.raises(EStopEngaged):
            client.call("/reset")
        assert abs(position(server) - moved) < 0.01  # not teleported
    finally:
        requests.delete(server.url + "/api/estop", headers=ALICE, timeout=10)
    assert server.post("/api/services/reset", {}, headers=ALICE).status_code == 200
    wait_for(lambda: abs(position(server) - start) < 0.01)  # the e-stop cleared: it works


# -- #12.8: deep JSON, huge integers, health, tokens in logs, logout ------------------------------


@pytest.mark.parametrize(
    "body",
    ["[" * 1000 + "]" * 1000, '{"linear": {"x": 1' + "0" * 400 + "}}",
     '{"linear": ' * 1200 + "{}" + "}" * 1200],
)  # fmt: skip
def test_deep_json_and_huge_numbers_are_a_4xx_on_rest_and_a_status_on_the_websocket(
    server: Served, body: str
) -> None:
    reply = requests.post(server.url + "/api/topics/cmd_vel", data=body, timeout=10,
                          headers={**ALICE, "Content-Type": "application/json"})  # fmt: skip
    assert 400 <= reply.status_code < 500, reply.text
    socket = ws(server, "alice-token")
    try:
        socket.send('{"op": "publish", "topic": "/cmd_vel", "id": "p", "msg": ' + body + "}")
        status = json.loads(socket.recv())
        assert status["op"] == "status", status
        assert "internal error" not in status["msg"], status
    finally:
        socket.close()


def test_a_viewers_health_lists_only_the_feeds_it_may_see(server: Served) -> None:
    server.get("/api/topics/scan", headers=ROOT)
    assert "/scan" in server.get("/api/health", headers=ROOT).json()["feeds"]
    feeds = server.get("/api/health", headers=VIC).json()["feeds"]
    assert "/odom" in feeds
    assert "/scan" not in feeds


def test_tokens_never_reach_the_access_log(server: Served) -> None:
    server.get("/api/topics?token=vic-token")
    server.get("/api/topics/odom/events?token=vic-token&x=1", stream=True).close()
    ws(server, "vic-token").close()
    wait_for(lambda: "/api/topics/odom/events" in server.output())
    output = server.output()
    assert "token=REDACTED" in output
    assert "vic-token" not in output


def test_logout_revokes_the_login_cookie(server: Served) -> None:
    login = requests.post(server.url + "/login", json={"user": "alice", "password": "pw-alice"},
                          timeout=10)  # fmt: skip
    assert login.status_code == 200, login.text
    cookies = login.cookies
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    assert server.get("/api/whoami", cookies=cookies).json()["user"] == "alice"
    out = server.post("/logout", cookies=cookies, headers=csrf)
    assert out.status_code == 200, out.text
    # a copy of the cookie taken before the logout neither reads nor writes any more
    assert server.get("/api/topics", cookies=cookies).status_code == 401
    write = server.post("/api/teleop", {"command": "stop"}, cookies=cookies, headers=csrf)
    assert write.status_code == 401
