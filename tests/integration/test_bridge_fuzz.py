"""Hostile input on the rosbridge WebSocket: hypothesis sends random and mutated ops over a real
socket to a live server.

Each example is one frame: a valid op (advertise, publish, subscribe, call_service, fragment,
control, ...), the same with a field deleted, retyped or replaced by junk (NaN, huge numbers,
nested junk), an unknown or missing op, non-JSON text, JSON that is not an object, random bytes,
or CBOR. After each frame the client sends a sentinel op answered at once; everything the server
sent before the sentinel's answer is the frame's answer. Checked: a frame that is certainly bad
gets a ``status`` error (with its ``id``), no frame gets an "internal error", the connection
stays open, nothing of rosweb (or Tornado) logs an error; after the run a fresh client still
receives /odom and /api/health is ok.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cbor2
import pytest
import requests
import websocket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import LiveServer
from rosweb.core.bridge import OPS
from rosweb.web.auth import hash_token

pytestmark = pytest.mark.integration

TOKEN = "t-fuzz-admin"
MAX_EXAMPLES = 300


@dataclass
class Frame:
    kind: str  # what the strategy made, for the counts
    data: str | bytes
    bad: bool  # certainly refused: must get a status error
    mid: str | None = None  # the id a status about it must carry
    always_ok: bool = False  # a valid op whose success does not depend on earlier ones


# -- strategies -----------------------------------------------------------------------------------

#: valid ops, each always accepted (on topics whose traffic is light); required fields listed
VALID: list[tuple[dict[str, Any], tuple[str, ...], dict[str, type]]] = [
    ({"op": "advertise", "topic": "/fuzz/a", "type": "std_msgs/String"}, ("topic", "type"), {}),
    (
        {"op": "publish", "topic": "/fuzz/a", "msg": {"data": "hello"}},
        ("topic",),
        {},
    ),
    (
        {"op": "publish", "topic": "/cmd_vel", "msg": {"linear": {"x": 0.1}}},
        ("topic",),
        {},
    ),
    (
        {
            "op": "subscribe",
            "topic": "/battery",
            "type": "sensor_msgs/BatteryState",
            "throttle_rate": 500,
            "queue_length": 1,
        },
        ("topic",),
        {"throttle_rate": float, "queue_length": int},
    ),
    ({"op": "unsubscribe", "topic": "/battery"}, ("topic",), {}),
    (
        {"op": "call_service", "service": "/rosapi/topics", "args": {}},
        ("service",),
        {"timeout": float},
    ),
    (
        {
            "op": "call_service",
            "service": "/robot/headlights",
            "args": {"data": True},
            "timeout": 2,
        },
        ("service",),
        {"timeout": float},
    ),
    (
        {"op": "advertise_service", "service": "/fuzz/srv", "type": "std_srvs/Trigger"},
        ("service", "type"),
        {},
    ),
    ({"op": "unadvertise_service", "service": "/fuzz/srv"}, ("service",), {}),
    (
        {"op": "service_response", "id": "nobody-asked", "values": {}, "result": True},
        ("id",),
        {},
    ),
    ({"op": "set_level", "level": "error"}, ("level",), {}),
    (
        {"op": "fragment", "id": "frag", "data": '{"op":"set_level",', "num": 0, "total": 2},
        ("id", "data", "num", "total"),
        {"num": int, "total": int},
    ),
    ({"op": "auth", "token": TOKEN}, ("token",), {}),
    ({"op": "control", "action": "state"}, (), {"action": str}),
    ({"op": "unadvertise", "topic": "/fuzz/a"}, ("topic",), {}),
]

#: ops of VALID that succeed whatever came before (publish to /fuzz/a needs its advertise first)
STATELESS = {"subscribe", "unsubscribe", "call_service", "set_level", "fragment", "control"}

junk_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**18, max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["", "/", "//", "/odom", "~x", "../..", "\x00", "é/ü"]),
)
junk = st.recursive(
    junk_scalar,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _wrong_type(expected: type) -> st.SearchStrategy[Any]:
    """A present (non-null) value that is certainly not of ``expected``."""
    values = st.one_of(
        st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=10),
        st.lists(junk_scalar, max_size=3), st.dictionaries(st.text(max_size=5), junk_scalar),
    )  # fmt: skip
    if expected is str:
        return values.filter(lambda v: not isinstance(v, str))
    return values.filter(lambda v: isinstance(v, bool) or not isinstance(v, int))


_ids = itertools.count()


def _text(message: Any) -> str:
    return json.dumps(message, allow_nan=True)  # NaN and Infinity as Python writes them


@st.composite
def mutated_ops(draw: st.DrawFn) -> Frame:
    """A valid op, then maybe a mutation: a field deleted or retyped (certainly bad), or fields
    replaced and added with junk (maybe bad)."""
    template, required, typed = draw(st.sampled_from(VALID))
    message = json.loads(json.dumps(template))
    mid = f"fuzz-{next(_ids)}"
    if message["op"] not in ("service_response", "fragment"):  # their id is a field of theirs
        message["id"] = mid
    how = draw(st.sampled_from(["valid", "delete", "retype", "junk", "extra"]))
    bad = False
    if how == "delete" and required:
        del message[draw(st.sampled_from(required))]
        bad = True
    elif how == "retype" and (required or typed):
        key = draw(st.sampled_from(sorted({*required, *typed})))
        expected = typed.get(key, str)
        value = draw(_wrong_type(expected))
        if expected is float:  # throttle_rate, timeout: ints and floats are numbers
            value = draw(
                st.one_of(st.text(max_size=5), st.booleans(), st.lists(junk_scalar, max_size=2))
            )
        message[key] = value
        bad = True
    elif how == "junk":
        for key in draw(st.lists(st.sampled_from(sorted(set(message) - {"op", "id"}) or ["x"]),
                                 min_size=1, max_size=3)):  # fmt: skip
            message[key] = draw(junk)
    elif how == "extra":
        message.update(draw(st.dictionaries(st.text(max_size=10), junk, min_size=1, max_size=3)))
        message["op"] = template["op"]
        message["id"] = message.get("id", mid) if message["op"] not in (
            "service_response", "fragment"
        ) else template["id"]  # fmt: skip
    if message["op"] == "auth":
        bad = True  # this session is already authenticated: always refused
    owner = message.get("id")
    status_id = mid if owner == mid else None
    if message["op"] in ("service_response", "fragment"):
        status_id = owner if isinstance(owner, str) else None
    encoding = draw(st.sampled_from(["json", "json", "json", "cbor"]))
    data = cbor2.dumps(message) if encoding == "cbor" else _text(message)
    always_ok = how == "valid" and message["op"] in STATELESS
    return Frame(f"{message['op']}:{how}:{encoding}", data, bad, status_id, always_ok)


@st.composite
def unknown_ops(draw: st.DrawFn) -> Frame:
    mid = f"fuzz-{next(_ids)}"
    op = draw(
        st.one_of(st.text(max_size=20), junk).filter(
            lambda o: not (isinstance(o, str) and o in OPS)
        )
    )
    message = {"op": op, "id": mid, **draw(st.dictionaries(st.text(max_size=8), junk, max_size=3))}
    message["op"], message["id"] = op, mid
    if draw(st.booleans()):
        del message["op"]
    return Frame("unknown-op", _text(message), True, mid)


SUBSCRIBE = '{"op": "subscribe", "topic": "/battery", "id": "x", '
CALL = '{"op": "call_service", "service": "/reset", "id": "x", '
SPECIAL = [
    Frame("huge-int", SUBSCRIBE + '"queue_length": 1' + "0" * 5000 + "}", True, "x"),
    Frame("cbor-deep", b"\x81" * 20_000 + b"\x00", True),
    Frame("cbor-tag", bytes.fromhex("c11a514b67b0"), True),  # a datetime, not an object
    Frame("cbor-bad-utf8", b"\xa1\x62op\x62\xff\xfe", True),
    Frame("nan", SUBSCRIBE + '"throttle_rate": NaN}', True, "x"),
    Frame("inf", CALL + '"timeout": Infinity}', True, "x"),
    Frame("huge-float", CALL + '"timeout": 1e400}', True, "x"),
    Frame("huge-queue", SUBSCRIBE + '"queue_length": 1' + "0" * 40 + "}", False),
]  # fmt: skip


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


raw_frames = st.one_of(
    st.text(max_size=200)
    .filter(lambda t: not _is_json_object(t))
    .map(lambda t: Frame("text", t, True)),
    junk.filter(lambda v: not isinstance(v, dict)).map(
        lambda v: Frame("json-not-object", _text(v), True)
    ),
    st.binary(max_size=200)
    .filter(lambda b: not _is_cbor_object(b))
    .map(lambda b: Frame("binary", b, True)),
    junk.filter(lambda v: not isinstance(v, dict)).map(
        lambda v: Frame("cbor-not-object", cbor2.dumps(v), True)
    ),
    st.integers(min_value=100, max_value=100_000).map(
        lambda n: Frame("deep-json", _nested(n), True)
    ),
    st.sampled_from(SPECIAL),
)


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def _is_cbor_object(data: bytes) -> bool:
    try:
        return isinstance(cbor2.loads(data), dict)
    except Exception:
        return False


#: six in ten frames start from a valid op, one in ten has an unknown op, three are raw junk
frames = st.integers(0, 9).flatmap(
    lambda n: mutated_ops() if n < 6 else unknown_ops() if n == 6 else raw_frames
)


# -- the client -----------------------------------------------------------------------------------


class Client:
    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=10)
        self.sentinels = itertools.count()

    def send(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            self.ws.send_binary(data)
        else:
            self.ws.send(data)

    def answer(self) -> list[dict[str, Any]]:
        """Reset the status level, then what the server sent until the sentinel's answer."""
        sentinel = f"sentinel-{next(self.sentinels)}"
        self.send(json.dumps({"op": "set_level", "level": "error"}))
        self.send(json.dumps({"op": "control", "action": "state", "id": sentinel}))
        received: list[dict[str, Any]] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            opcode, data = self.ws.recv_data()
            assert opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY), opcode
            message = (
                cbor2.loads(data) if opcode == websocket.ABNF.OPCODE_BINARY else json.loads(data)
            )
            if message.get("op") == "control" and message.get("id") == sentinel:
                return received
            if message.get("op") != "publish":
                received.append(message)
        raise AssertionError(f"no answer to {sentinel} within 10 s")


# -- the test -------------------------------------------------------------------------------------


def test_hostile_frames_get_status_errors_and_break_nothing(
    serve: Callable[..., LiveServer],
    caplog: pytest.LogCaptureFixture,
    pytestconfig: pytest.Config,
) -> None:
    caplog.set_level(logging.WARNING)
    live = serve(
        {
            "ROSWEB_USERS": {"root": {"role": "admin", "tokens": [hash_token(TOKEN)]}},
            "ROSWEB_WS_RATE_LIMIT": "100000/second",
            "ROSWEB_RATE_LIMIT": "100000/second",
            "ROSWEB_SERVICE_TIMEOUT": 1.0,  # calls of the fuzz client's own services
        }
    )
    ws_url = live.url.replace("http", "ws") + f"/ws?token={TOKEN}"
    client = Client(ws_url)
    kinds: Counter[str] = Counter()
    answers: Counter[str] = Counter()
    started = time.monotonic()

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same frames every run: CI failures reproduce
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                               HealthCheck.data_too_large],
    )  # fmt: skip
    @given(frame=frames)
    def send_one(frame: Frame) -> None:
        client.send(frame.data)
        received = client.answer()
        kinds[frame.kind.split(":")[0]] += 1
        for message in received:
            answers[f"{message.get('op')}:{message.get('level', message.get('result', ''))}"] += 1
        internal = [m for m in received if "internal error" in str(m.get("msg", m.get("values")))]
        assert not internal, (frame, internal)
        errors = [m for m in received if m.get("op") == "status" and m.get("level") == "error"]
        if frame.bad:
            assert errors, (frame, received)
            if frame.mid is not None:
                assert any(m.get("id") == frame.mid for m in errors), (frame, errors)
        elif frame.always_ok:
            assert not errors, (frame, errors)

    send_one()
    elapsed = time.monotonic() - started

    # the connection is still open and answers
    assert client.answer() == []
    client.ws.close()
    # the server still serves: a fresh client gets /odom, REST is healthy
    fresh = websocket.create_connection(ws_url, timeout=10)
    fresh.send(json.dumps({"op": "subscribe", "topic": "/odom"}))
    message = json.loads(fresh.recv())
    assert message["op"] == "publish"
    assert message["topic"] == "/odom"
    fresh.close()
    health = requests.get(
        f"{live.url}/api/health", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )
    assert health.status_code == 200
    assert health.json()["ok"] is True
    logged = [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.startswith(("rosweb", "tornado.application"))
    ]
    assert not logged, [r.getMessage() for r in logged]

    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(
            f"\nrosbridge fuzz: {sum(kinds.values())} frames in {elapsed:.1f} s; "
            f"by kind {dict(sorted(kinds.items()))}; answers {dict(sorted(answers.items()))}"
        )
