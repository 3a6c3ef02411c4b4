"""The fleet's MQTT contract: topic layout, payload encoding, command headers (no I/O here).

Every robot lives under ``PREFIX/ROBOT/`` (``PREFIX`` is ``rosweb`` unless set)::

    PREFIX/ROBOT/status             robot -> all    QoS 1, retained; the will says offline
    PREFIX/ROBOT/control            robot -> all    QoS 1, retained: who drives, e-stop, moving
    PREFIX/ROBOT/topic/NAME...      robot -> all    QoS 0, retained: telemetry (JPEG for images)
    PREFIX/ROBOT/types/PKG/TYPE     robot -> all    QoS 1, retained: the schemas of its types
    PREFIX/ROBOT/cmd/OP             fleet -> robot  QoS 0, message expiry: motion (at most once)
    PREFIX/ROBOT/req/OP             fleet -> robot  QoS 1: requests (at least once, deduplicated)
    PREFIX/ROBOT/resp/REQUESTER     robot -> fleet  answers, with the request's correlation data
    PREFIX/fleet/estop              fleet -> robots QoS 1, retained: the fleet-wide e-stop

Payloads are JSON in rosweb's form (``uint8[]`` as base64, times as ``{secs, nsecs}``) unless
the sender says ``application/cbor`` in the MQTT 5 content type; images are JPEG bytes
(``image/jpeg``). See README, *Fleets over MQTT*, for the fields of each payload.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import cbor2

from rosweb.errors import ConfigError, ValidationError
from rosweb.messages import to_jsonable

__all__ = [
    "CBOR",
    "JPEG",
    "JSON",
    "ROBOT_NAME",
    "FleetOptions",
    "Layout",
    "check_fresh",
    "decode",
    "encode",
    "header",
    "parse_topic_rates",
]

JSON = "application/json"
CBOR = "application/cbor"
JPEG = "image/jpeg"
#: a robot's name: one MQTT topic level, safe in URLs and ROS names
ROBOT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
#: names a robot may not take (topic levels of the fleet itself)
RESERVED = frozenset({"fleet"})
#: how far in the future a command's timestamp may be (clock skew between fleet and robot)
MAX_SKEW = 0.25


def check_robot_name(name: str) -> str:
    if not ROBOT_NAME.match(name) or name in RESERVED:
        raise ConfigError(
            f"fleet robot name {name!r}: expects a letter then letters, digits, _ or - "
            f"(up to 63), not {sorted(RESERVED)}"
        )
    return name


@dataclass(frozen=True)
class Layout:
    """The topic names of the contract under one prefix."""

    prefix: str = "rosweb"

    def robot(self, robot: str) -> str:
        return f"{self.prefix}/{robot}"

    def status(self, robot: str) -> str:
        return f"{self.prefix}/{robot}/status"

    def control(self, robot: str) -> str:
        return f"{self.prefix}/{robot}/control"

    def topic(self, robot: str, name: str) -> str:
        """Telemetry of ROS topic ``name`` (``/odom`` -> ``PREFIX/ROBOT/topic/odom``)."""
        return f"{self.prefix}/{robot}/topic/{name.strip('/')}"

    def types(self, robot: str, type_name: str) -> str:
        return f"{self.prefix}/{robot}/types/{type_name}"

    def cmd(self, robot: str, op: str) -> str:
        return f"{self.prefix}/{robot}/cmd/{op}"

    def req(self, robot: str, op: str) -> str:
        return f"{self.prefix}/{robot}/req/{op}"

    def resp(self, robot: str, requester: str) -> str:
        return f"{self.prefix}/{robot}/resp/{requester}"

    @property
    def fleet_estop(self) -> str:
        return f"{self.prefix}/fleet/estop"

    def split(self, topic: str) -> tuple[str, str, str] | None:
        """``(robot, kind, rest)`` of a contract topic (``rest``: what follows the kind), or
        None for a topic outside the prefix or with a malformed robot level."""
        head = self.prefix + "/"
        if not topic.startswith(head):
            return None
        parts = topic[len(head) :].split("/", 2)
        if len(parts) < 2 or not ROBOT_NAME.match(parts[0]):
            return None
        return parts[0], parts[1], parts[2] if len(parts) == 3 else ""


# -- payloads --------------------------------------------------------------------------------------


def encode(value: Any, content_type: str = JSON) -> bytes:
    """``value`` (messages in rosweb's Python form inside) as JSON or CBOR bytes."""
    if content_type == CBOR:
        return cbor2.dumps(value)
    return json.dumps(to_jsonable(value), separators=(",", ":"), allow_nan=False).encode()


def decode(payload: bytes, content_type: str | None) -> Any:
    """A payload as data; ValidationError for bytes that are not what they claim."""
    try:
        if content_type == CBOR:
            return cbor2.loads(payload)
        return json.loads(payload)
    except (ValueError, cbor2.CBORDecodeError, RecursionError) as err:
        kind = "CBOR" if content_type == CBOR else "JSON"
        raise ValidationError(f"payload is not {kind}: {err}") from None


def header(
    robot: str, *, ttl: float, user: str = "", role: str = "", client: str = ""
) -> dict[str, Any]:
    """The fields every command and request starts with: whom it is for, when it was sent and
    for how long it holds (seconds), on whose behalf."""
    return {"robot": robot, "ts": time.time(), "ttl": ttl, "user": user, "role": role,
            "client": client}  # fmt: skip


def check_fresh(body: Any, robot: str, max_ttl: float, now: float | None = None) -> None:
    """ValidationError unless ``body`` is addressed to ``robot`` and still holds: sent less than
    ``min(ttl, max_ttl)`` seconds ago and not from the future (beyond :data:`MAX_SKEW`)."""
    if not isinstance(body, dict):
        raise ValidationError("expects an object with robot, ts and ttl")
    if body.get("robot") != robot:
        raise ValidationError(f"addressed to robot {body.get('robot')!r}, this is {robot!r}",
                              "robot")  # fmt: skip
    ts, ttl = body.get("ts"), body.get("ttl", max_ttl)
    if not (_finite(ts) and _finite(ttl)):
        raise ValidationError("expects a number ts (UNIX seconds) and ttl (seconds)", "ts")
    assert isinstance(ts, int | float)
    assert isinstance(ttl, int | float)
    now = time.time() if now is None else now
    age = now - ts
    if age > min(ttl, max_ttl):
        raise ValidationError(f"expired: sent {age:.3f} s ago, holds {min(ttl, max_ttl):g} s",
                              "ts")  # fmt: skip
    if age < -MAX_SKEW:
        raise ValidationError(f"sent {-age:.3f} s in the future: are the clocks synchronised?",
                              "ts")  # fmt: skip


def _finite(value: Any) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return number and math.isfinite(value)


def expiry_seconds(ttl: float) -> int:
    """MQTT 5 message expiry (whole seconds, at least 1) for a payload holding ``ttl`` s."""
    return max(1, math.ceil(ttl))


def parse_topic_rates(entries: list[str]) -> list[tuple[str, float]]:
    """``["/odom@5", "/camera/*@1", "/battery"]`` -> ``[(glob, hz)]`` (no ``@``: 1 Hz)."""
    result = []
    for entry in entries:
        glob, _, rate = entry.partition("@")
        try:
            hz = float(rate) if rate else 1.0
        except ValueError:
            hz = math.nan
        if not glob.startswith("/") or not (0 < hz <= 100):
            raise ConfigError(
                f"ROSWEB_FLEET_TOPICS entry {entry!r}: expects /GLOB or /GLOB@HZ (0 < HZ <= 100)"
            )
        result.append((glob, hz))
    return result


# -- connection options ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FleetOptions:
    """Where the broker is and how to talk to it (from a URL and the ``ROSWEB_FLEET_*``
    settings; the settings win)."""

    host: str
    port: int
    tls: bool = False
    robot: str = ""
    username: str | None = None
    password: str | None = None
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    prefix: str = "rosweb"
    encoding: str = JSON
    keepalive: int = 5
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def layout(self) -> Layout:
        return Layout(self.prefix)

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    @classmethod
    def from_url(cls, url: str, settings: dict[str, Any] | None = None) -> FleetOptions:
        """``mqtt[s]://[user[:password]@]host[:port][?robot=NAME&prefix=&encoding=json|cbor&
        keepalive=S&ca=FILE&cert=FILE&key=FILE]``."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ConfigError(f"fleet URL {url!r}: expects mqtt://HOST[:PORT] or mqtts://...")
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError as err:
            raise ConfigError(f"fleet URL {url!r}: {err}") from None
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        known = {"robot", "prefix", "encoding", "keepalive", "ca", "cert", "key"}
        unknown = set(query) - known
        if unknown:
            raise ConfigError(f"fleet URL option {sorted(unknown)[0]!r}: expects {sorted(known)}")
        cfg = settings or {}

        def pick(name: str, default: Any = None) -> Any:
            value = cfg.get(f"ROSWEB_FLEET_{name.upper()}")
            return value if value not in (None, "", 0) else query.get(name, default)

        encoding = str(pick("encoding", "json")).lower()
        if encoding not in ("json", "cbor"):
            raise ConfigError(f"fleet encoding {encoding!r}: expects json or cbor")
        try:
            keepalive = int(float(pick("keepalive", 5)))
        except ValueError:
            keepalive = 0
        if not 1 <= keepalive <= 3600:
            raise ConfigError("fleet keepalive: expects whole seconds in [1, 3600]")
        prefix = str(pick("prefix", "rosweb")).strip("/")
        if not prefix or any(c in prefix for c in "+#"):
            raise ConfigError(f"fleet prefix {prefix!r}: expects topic levels without + or #")
        robot = str(pick("robot", ""))
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=port,
            tls=tls or bool(pick("ca")),
            robot=check_robot_name(robot) if robot else "",
            username=cfg.get("ROSWEB_FLEET_USERNAME") or (unquote(parts.username)
                                                          if parts.username else None),
            password=cfg.get("ROSWEB_FLEET_PASSWORD") or (unquote(parts.password)
                                                          if parts.password else None),
            ca=pick("ca"), cert=pick("cert"), key=pick("key"),
            prefix=prefix,
            encoding=CBOR if encoding == "cbor" else JSON,
            keepalive=keepalive,
        )  # fmt: skip
