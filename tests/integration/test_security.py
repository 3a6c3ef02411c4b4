"""Safety and security over real HTTP and WebSocket connections: who may do what, on every path.

The users of these tests: ``viewer``, ``alice`` and ``carol`` (operators), ``root`` (admin), each
with an API token; ``alice`` also has a password for the login session.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import websocket

from helpers import Inbox, LiveServer, assert_error, free_port, wait_for
from rosweb.control import TWIST
from rosweb.core.bridge import OP_ROLES
from rosweb.web.auth import hash_password, hash_token
from rosweb.web.security import PUBLIC_ENDPOINTS, REQUIREMENTS, required_role

pytestmark = pytest.mark.integration

TOKENS = {"viewer": "t-viewer", "alice": "t-alice", "carol": "t-carol", "root": "t-root"}
ROLES = {"viewer": "viewer", "alice": "operator", "carol": "operator", "root": "admin"}
PASSWORD = "correct horse battery staple"


def users() -> dict[str, Any]:
    table: dict[str, Any] = {
        name: {"role": ROLES[name], "tokens": [hash_token(token)]} for name, token in TOKENS.items()
    }
    table["alice"]["password"] = hash_password(PASSWORD)
    return table


def bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


Serve = Callable[..., LiveServer]
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def secure(serve: Serve) -> LiveServer:
    return serve({"ROSWEB_USERS": users()})


# -- every route, every op: no credentials -> 401, too low a role -> 403 ------------------------

SAMPLES = {
    "topic": "odom",
    "service": "reset",
    "param": "robot/max_linear_speed",
    "type_name": "std_msgs/String",
    "filename": "css/rosweb.css",
    "sid": "no-such-session",
}


def concrete(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: SAMPLES[m.group(1)], rule)


def flask_routes(live: LiveServer) -> list[tuple[str, str, str]]:
    """(method, path, endpoint) of every route of the app."""
    routes = []
    for rule in live.app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((method, concrete(rule.rule), rule.endpoint))
    return routes


NATIVE = [  # the native Tornado routes of rosweb run (in front of the WSGI container)
    ("GET", "/api/topics/odom/events", "viewer"),
    ("GET", "/stream/camera/image_raw.mjpg", "viewer"),
]


def test_every_route_refuses_a_request_without_credentials(secure: LiveServer) -> None:
    checked = 0
    for method, path, endpoint in flask_routes(secure):
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        response = requests.request(
            method, secure.url + path, headers={"Accept": "application/json"}, timeout=5
        )
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        checked += 1
    for method, path, _ in NATIVE:
        assert_error(requests.request(method, secure.url + path, timeout=5), 401)
        checked += 1
    assert checked >= 30


def test_every_route_refuses_too_low_a_role(secure: LiveServer) -> None:
    refused = 0
    for method, path, endpoint in flask_routes(secure):
        role = required_role(endpoint, method)
        if role is None or role == "viewer":
            continue
        lower = "viewer" if role == "operator" else "alice"
        response = requests.request(method, secure.url + path, headers=bearer(lower), timeout=5)
        error = assert_error(response, 403, "forbidden")
        assert f"needs role {role}" in error["message"]
        refused += 1
    assert refused >= 8  # every write of the API


def test_public_routes_are_only_the_login_assets_and_the_spec(secure: LiveServer) -> None:
    assert {
        "rosweb_auth.login", "rosweb_auth.login_form", "rosweb_ui.static",
        "rosweb_widgets.static", "static", "rosweb_api.index", "rosweb_api.openapi",
        "rosweb_bridge",
    } == PUBLIC_ENDPOINTS  # fmt: skip
    assert REQUIREMENTS == {
        "rosweb_api.estop_engage": {"POST": "viewer"},
        "rosweb_auth.logout": {"POST": "viewer"},
        "rosweb_webrtc.offer": {"POST": "viewer"},
        "rosweb_webrtc.close": {"DELETE": "viewer"},
    }
    page = requests.get(secure.url + "/", headers=BROWSER, timeout=5, allow_redirects=False)
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/login?next=")


def ws_connect(live: LiveServer, query: str = "", **kwargs: Any) -> websocket.WebSocket:
    url = live.url.replace("http", "ws") + "/ws" + query
    return websocket.create_connection(url, timeout=5, **kwargs)


def ws_status(ws: websocket.WebSocket, message: dict[str, Any]) -> str:
    ws.send(json.dumps({**message, "id": "x"}))
    reply = json.loads(ws.recv())
    assert reply["op"] == "status", reply
    assert reply["id"] == "x"
    return str(reply["msg"])


WS_SAMPLES: dict[str, dict[str, Any]] = {
    "advertise": {"topic": "/chatter", "type": "std_msgs/String"},
    "unadvertise": {"topic": "/chatter"},
    "publish": {"topic": "/cmd_vel", "msg": {"linear": {"x": 0.2}}},
    "subscribe": {"topic": "/odom"},
    "unsubscribe": {"topic": "/odom"},
    "call_service": {"service": "/reset"},
    "advertise_service": {"service": "/mine", "type": "std_srvs/Empty"},
    "unadvertise_service": {"service": "/mine"},
    "service_response": {"service": "/mine", "values": {}},
    "set_level": {"level": "info"},
    "fragment": {"data": "{", "num": 0, "total": 2},
    "control": {"action": "acquire"},
}


def test_every_websocket_op_refuses_without_credentials_and_too_low_a_role(
    secure: LiveServer,
) -> None:
    assert set(WS_SAMPLES) | {"auth"} == set(OP_ROLES)
    anonymous = ws_connect(secure)
    viewer = ws_connect(secure, f"?token={TOKENS['viewer']}")
    try:
        for op, fields in WS_SAMPLES.items():
            message = {"op": op, **fields}
            assert "not authenticated" in ws_status(anonymous, message), op
            if OP_ROLES[op] == "operator":
                assert "needs role operator (you are viewer)" in ws_status(viewer, message), op
    finally:
        anonymous.close()
        viewer.close()
    assert secure.state.robot.local.control_state()["holder"] is None
    assert "/mine" not in secure.graph.services()


def test_websocket_credentials_token_first_message_or_cookie(secure: LiveServer) -> None:
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        ws_connect(secure, "?token=wrong")
    assert refused.value.status_code == 401
    ws = ws_connect(secure)
    try:
        ws.send(json.dumps({"op": "auth", "token": TOKENS["alice"]}))
        assert json.loads(ws.recv()) == {
            "op": "auth", "result": True, "user": "alice", "role": "operator"
        }  # fmt: skip
    finally:
        ws.close()
    session = requests.Session()
    session.post(secure.url + "/login", json={"user": "alice", "password": PASSWORD}, timeout=5)
    cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    ws = ws_connect(secure, header=[f"Cookie: {cookie}"])
    try:
        ws.send(json.dumps({"op": "control", "id": "c", "action": "state"}))
        assert json.loads(ws.recv())["op"] == "control"
    finally:
        ws.close()


def test_a_page_of_another_origin_cannot_open_the_websocket(serve: Serve) -> None:
    open_server = serve()  # authentication off: loopback only, same-origin pages only
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        ws_connect(open_server, origin="http://evil.example")
    assert refused.value.status_code == 403
    ws_connect(open_server, origin=open_server.url).close()
    allowed = serve({"ROSWEB_CORS_ORIGINS": ["http://lab.example"]})
    ws_connect(allowed, origin="http://lab.example").close()


# -- login session, CSRF, origins, CORS ---------------------------------------------------------


def test_login_session_needs_the_csrf_token_for_writes(secure: LiveServer) -> None:
    browser = requests.Session()
    wrong = browser.post(secure.url + "/login", json={"user": "alice", "password": "no"}, timeout=5)
    assert_error(wrong, 401, "unauthorized")
    login = browser.post(
        secure.url + "/login", json={"user": "alice", "password": PASSWORD}, timeout=5
    )
    assert login.status_code == 200
    assert login.json()["role"] == "operator"
    assert "HttpOnly" in login.headers["Set-Cookie"]
    me = browser.get(secure.url + "/api/whoami", timeout=5).json()
    assert (me["user"], me["role"], me["via"]) == ("alice", "operator", "session")
    url = secure.url + "/api/params/robot/max_linear_speed"
    refused = browser.put(url, json=0.4, timeout=5)
    assert "CSRF" in assert_error(refused, 403, "forbidden")["message"]
    done = browser.put(url, json=0.4, headers={"X-CSRF-Token": me["csrf_token"]}, timeout=5)
    assert done.json() == 0.4
    browser.post(secure.url + "/logout", headers={"X-CSRF-Token": me["csrf_token"]}, timeout=5)
    assert_error(browser.get(secure.url + "/api/whoami", timeout=5), 401)


def test_the_login_form_redirects_back_to_the_page(secure: LiveServer) -> None:
    browser = requests.Session()
    browser.headers.update(BROWSER)
    form = browser.get(secure.url + "/", timeout=5)
    assert 'name="password"' in form.text
    done = browser.post(
        secure.url + "/login",
        data={"user": "alice", "password": PASSWORD, "next": "//evil.example/"},
        timeout=5,
        allow_redirects=False,
    )
    assert done.status_code == 302
    assert done.headers["Location"] == "/"  # never to another host
    assert "rosweb" in browser.get(secure.url + "/", timeout=5).text


def test_cross_origin_writes_are_refused_even_without_authentication(serve: Serve) -> None:
    live = serve()
    evil = requests.post(
        live.url + "/api/teleop",
        data='{"command": "forward"}',
        headers={"Origin": "http://evil.example", "Content-Type": "text/plain"},
        timeout=5,
    )
    assert "cross-origin" in assert_error(evil, 403, "forbidden")["message"]
    assert live.state.robot.local.control_state()["moving"] is False
    rebinding = requests.get(live.url + "/api/topics", headers={"Host": "evil.example"}, timeout=5)
    assert "DNS rebinding" in assert_error(rebinding, 403)["message"]


def test_cors_answers_only_configured_origins(serve: Serve) -> None:
    live = serve({"ROSWEB_USERS": users(), "ROSWEB_CORS_ORIGINS": ["http://lab.example"]})
    preflight = requests.options(
        live.url + "/api/teleop",
        headers={
            "Origin": "http://lab.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
        timeout=5,
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://lab.example"
    other = requests.get(
        live.url + "/api/topics", headers={"Origin": "http://x.example", **bearer("alice")},
        timeout=5,
    )  # fmt: skip
    assert "Access-Control-Allow-Origin" not in other.headers


# -- allow/deny lists on every path -------------------------------------------------------------


def test_denied_names_are_hidden_on_every_path(serve: Serve) -> None:
    live = serve(
        {
            "ROSWEB_USERS": users(),
            "ROSWEB_DENY_TOPICS": ["/camera/*"],
            "ROSWEB_ROLES": {"viewer": {"deny_params": ["/robot/*"], "deny_services": ["/reset"]}},
        }
    )
    viewer = bearer("viewer")

    def get(path: str) -> requests.Response:
        return requests.get(live.url + path, headers=viewer, timeout=5)

    names = [t["name"] for t in get("/api/topics").json()["topics"]]
    assert "/odom" in names
    assert not [n for n in names if n.startswith("/camera/")]
    assert_error(get("/api/topics/camera/image_raw"), 403, "forbidden")
    assert_error(get("/api/topics/camera/image_raw/events"), 403, "forbidden")
    assert_error(get("/stream/camera/image_raw.mjpg"), 403, "forbidden")
    assert_error(get("/snapshot/camera/image_raw.jpg"), 403, "forbidden")
    assert not [n for n in get("/api/params").json()["params"] if n.startswith("/robot/")]
    assert_error(get("/api/params/robot/max_linear_speed"), 403)
    assert "/reset" not in [s["name"] for s in get("/api/services").json()["services"]]
    assert "/reset" in [
        s["name"]
        for s in requests.get(
            live.url + "/api/services", headers=bearer("alice"), timeout=5
        ).json()["services"]
    ]
    ws = ws_connect(live, f"?token={TOKENS['viewer']}")
    try:
        assert "not exposed" in ws_status(ws, {"op": "subscribe", "topic": "/camera/image_raw"})
        ws.send(json.dumps({"op": "call_service", "id": "t", "service": "/rosapi/topics"}))
        topics = json.loads(ws.recv())["values"]["topics"]
        assert "/odom" in topics
        assert not [n for n in topics if n.startswith("/camera/")]
    finally:
        ws.close()


# -- the control lease, e-stop, limits, audit ---------------------------------------------------


def teleop(live: LiveServer, who: str, command: str = "forward") -> requests.Response:
    return requests.post(
        live.url + "/api/teleop", json={"command": command}, headers=bearer(who), timeout=5
    )


def test_one_operator_drives_at_a_time_and_an_admin_can_take_over(secure: LiveServer) -> None:
    assert teleop(secure, "alice").status_code == 200
    state = requests.get(secure.url + "/api/control", headers=bearer("viewer"), timeout=5).json()
    assert state["user"] == "alice"
    refused = assert_error(teleop(secure, "carol"), 409, "control_held")
    assert refused["holder"] == "alice"
    assert "alice is driving" in refused["message"]
    assert teleop(secure, "carol", "stop").status_code == 200  # anyone may stop
    take = requests.post(secure.url + "/api/control", json={"force": True}, headers=bearer("carol"),
                         timeout=5)  # fmt: skip
    assert_error(take, 403, "forbidden")
    take = requests.post(secure.url + "/api/control", json={"force": True}, headers=bearer("root"),
                         timeout=5)  # fmt: skip
    assert take.json()["user"] == "root"
    assert_error(teleop(secure, "alice"), 409, "control_held")
    released = requests.delete(secure.url + "/api/control", headers=bearer("root"), timeout=5)
    assert released.json()["released"] is True
    assert teleop(secure, "alice").status_code == 200


def test_the_lease_expires_after_its_ttl(serve: Serve) -> None:
    live = serve({"ROSWEB_USERS": users(), "ROSWEB_CONTROL_TTL": 0.3})
    assert teleop(live, "alice").status_code == 200
    assert_error(teleop(live, "carol"), 409)
    wait_for(lambda: teleop(live, "carol").status_code == 200, timeout=3)


def test_estop_latches_until_an_operator_clears_it(secure: LiveServer) -> None:
    inbox = Inbox()
    with secure.graph.subscribe("/cmd_vel", inbox, TWIST):
        engaged = requests.post(secure.url + "/api/estop", headers=bearer("viewer"), timeout=5)
        assert engaged.json()["estop"]["by"] == "viewer"
        wait_for(lambda: len(inbox) >= 3, timeout=3)  # repeated zero Twists
        assert all(m["linear"]["x"] == 0.0 for m in inbox.items)
        assert_error(teleop(secure, "alice"), 409, "estop_engaged")
        ws = ws_connect(secure, f"?token={TOKENS['alice']}")
        try:
            status = ws_status(ws, {"op": "publish", "topic": "/cmd_vel",
                                    "msg": {"linear": {"x": 0.2}}})  # fmt: skip
            assert "e-stop is engaged" in status
        finally:
            ws.close()
        assert_error(requests.delete(secure.url + "/api/estop", headers=bearer("viewer"),
                                     timeout=5), 403)  # fmt: skip
        cleared = requests.delete(secure.url + "/api/estop", headers=bearer("alice"), timeout=5)
        assert cleared.json()["estop"] is None
        assert teleop(secure, "alice").status_code == 200
    assert max(m["linear"]["x"] for m in inbox.items) > 0


def test_velocity_limits_per_role_on_every_path(serve: Serve) -> None:
    live = serve(
        {
            "ROSWEB_USERS": users(),
            "ROSWEB_ROLES": {"operator": {"max_linear_speed": 0.1, "max_angular_speed": 0.5}},
        }
    )
    fast = {"linear": {"x": 5.0}, "angular": {"z": -5.0}}
    sent = teleop(live, "alice").json()["twist"]
    assert sent["linear"]["x"] == pytest.approx(0.1)
    published = requests.post(live.url + "/api/topics/cmd_vel", json=fast, headers=bearer("alice"),
                              timeout=5).json()["msg"]  # fmt: skip
    assert (published["linear"]["x"], published["angular"]["z"]) == (0.1, -0.5)
    inbox = Inbox()
    with live.graph.subscribe("/cmd_vel", inbox, TWIST):
        ws = ws_connect(live, f"?token={TOKENS['alice']}")
        try:
            ws.send(json.dumps({"op": "publish", "topic": "/cmd_vel", "msg": fast}))
            wait_for(lambda: any(m["linear"]["x"] for m in inbox.items))
        finally:
            ws.close()
    moving = next(m for m in inbox.items if m["linear"]["x"])
    assert (moving["linear"]["x"], moving["angular"]["z"]) == (0.1, -0.5)
    root = requests.post(live.url + "/api/topics/cmd_vel", json=fast, headers=bearer("root"),
                         timeout=5)  # fmt: skip
    assert_error(root, 409, "control_held")  # alice still holds the lease


def test_the_audit_log_says_who_did_what(serve: Serve, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    live = serve({"ROSWEB_USERS": users(), "ROSWEB_AUDIT_LOG": str(log)})
    for _ in range(20):  # a held key: folded into one line a second
        teleop(live, "alice")
    requests.put(live.url + "/api/params/robot/max_linear_speed", json=0.5, headers=bearer("alice"),
                 timeout=5)  # fmt: skip
    assert_error(teleop(live, "carol"), 409)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    actions = [(e["user"], e["action"], e["target"], e["outcome"]) for e in lines]
    assert actions.count(("alice", "teleop", "forward", "ok")) == 1
    assert ("alice", "set_param", "/robot/max_linear_speed", "ok") in actions
    assert ("carol", "teleop", "forward", "refused") in actions
    assert all(e["role"] and e["remote"] == "127.0.0.1" for e in lines if e["action"] != "login")


# -- hostile input: sizes and rates -------------------------------------------------------------


def test_oversize_bodies_and_frames_are_refused(serve: Serve) -> None:
    live = serve({"ROSWEB_MAX_BODY": 1000, "ROSWEB_MAX_WS_MESSAGE": 1000})
    big = {"data": "x" * 5000}
    response = requests.post(live.url + "/api/topics/chatter?type=std_msgs/String", json=big,
                             timeout=5)  # fmt: skip
    assert_error(response, 413)
    ws = ws_connect(live)
    ws.send(json.dumps({"op": "publish", "topic": "/chatter", "msg": big}))
    opcode, frame = ws.recv_data_frame(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(frame.data[:2], "big") == 1009  # message too big
    assert requests.get(live.url + "/api/health", timeout=5).status_code == 200


def test_writes_are_rate_limited_per_client(serve: Serve) -> None:
    live = serve({"ROSWEB_USERS": users(), "ROSWEB_RATE_LIMIT": "5/minute"})
    for _ in range(5):
        assert teleop(live, "alice", "stop").status_code == 200
    limited = teleop(live, "alice", "stop")
    assert_error(limited, 429, "rate_limited")
    assert limited.headers["Retry-After"] == "1"
    assert teleop(live, "carol", "stop").status_code == 200  # another client is not limited
    assert requests.get(live.url + "/api/topics", headers=bearer("alice"), timeout=5).ok


# -- serving beyond loopback, TLS ---------------------------------------------------------------


def rosweb(*args: str) -> list[str]:
    return [sys.executable, "-m", "rosweb.cli", *args]


def test_run_refuses_a_public_address_without_authentication() -> None:
    done = subprocess.run(
        rosweb("run", "--host", "0.0.0.0", "--port", str(free_port())),
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 1
    assert "refusing to serve on 0.0.0.0 without authentication" in done.stderr
    assert "rosweb user add" in done.stderr


def test_user_add_writes_hashes_that_log_in(tmp_path: Path, serve: Serve) -> None:
    password = "pw of dana!"  # spaces and "!": no hash or salt of the file can contain it
    config = tmp_path / "rosweb.toml"
    config.write_text('# the lab robot\nbackend = "sim://"\n')
    done = subprocess.run(
        rosweb("user", "add", "dana", "--role", "operator", "--password", password, "--token",
               "--config", str(config)),
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    token = done.stdout.strip()
    text = config.read_text()
    assert "# the lab robot" in text  # the file's comments are kept
    assert token not in text
    assert password not in text
    assert config.stat().st_mode & 0o077 == 0
    from rosweb import config as settings_module

    live = serve(settings_module.from_toml(config))
    me = requests.get(live.url + "/api/whoami", headers={"Authorization": f"Bearer {token}"},
                      timeout=5).json()  # fmt: skip
    assert (me["user"], me["role"]) == ("dana", "operator")
    login = requests.post(live.url + "/login", json={"user": "dana", "password": password},
                          timeout=5)  # fmt: skip
    assert login.json()["user"] == "dana"


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def test_tls_serves_https_and_wss(
    certificate: tuple[Path, Path], processes: list[subprocess.Popen[str]]
) -> None:
    cert, key = certificate
    port = free_port()
    proc = subprocess.Popen(
        rosweb("run", "--port", str(port), "--cert", str(cert), "--key", str(key)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    processes.append(proc)
    url = f"https://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(url + "/api/health", verify=str(cert), timeout=2).ok
        except requests.RequestException:
            return False

    try:
        wait_for(up, timeout=30, interval=0.2)
    except AssertionError:
        proc.kill()
        raise AssertionError(proc.communicate()[1]) from None
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
    ws = websocket.create_connection(
        f"wss://127.0.0.1:{port}/ws", timeout=5, sslopt={"ca_certs": str(cert),
                                                         "check_hostname": False}
    )  # fmt: skip
    try:
        ws.send(json.dumps({"op": "control", "id": "c", "action": "state"}))
        assert json.loads(ws.recv())["op"] == "control"
    finally:
        ws.close()
