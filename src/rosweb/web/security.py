"""The gate every request passes: who is asking, may they, not too often, not from elsewhere.

One :class:`Gate` per app, used by the Flask side (a ``before_request`` hook on every route) and
by the native Tornado handlers and the rosbridge sessions (they call it themselves), so there is
one set of rules for every path:

- **who**: a bearer token, a ``token`` query parameter (WebSocket, EventSource, ``<img>``), or a
  logged-in session cookie; see :mod:`rosweb.web.auth`. With authentication off (no users), only
  loopback clients asking for a loopback host name are served (DNS rebinding), unless
  ``ROSWEB_INSECURE``.
- **may they**: reads need ``viewer``, writes ``operator``, except where :data:`REQUIREMENTS`
  says otherwise; names are then checked against the allow/deny lists by the views.
- **from elsewhere**: a write whose ``Origin`` is neither the server's nor in
  ``ROSWEB_CORS_ORIGINS`` is refused (cross-site requests), and a write authenticated by the
  session cookie must carry the ``X-CSRF-Token`` header (Flask-WTF's token).
- **not too often**: writes are rate limited per client (``ROSWEB_RATE_LIMIT``, with the
  ``limits`` library), logins harder; a rosbridge connection's writes by its own
  :class:`Allowance` (``ROSWEB_WS_RATE_LIMIT``), which refuses in well under a microsecond.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import (
    current_app,
    g,
    redirect,
    request,
    url_for,
)
from flask_wtf.csrf import CSRFError, validate_csrf  # type: ignore[import-untyped]
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from werkzeug.wrappers import Response as BaseResponse
from wtforms.validators import ValidationError as CsrfInvalid  # type: ignore[import-untyped]

from rosweb.core.audit import Audit
from rosweb.errors import AuthError, ConfigError, PermissionDenied, RateLimited
from rosweb.web.auth import Auth, Principal

__all__ = [
    "PUBLIC_ENDPOINTS",
    "REQUIREMENTS",
    "Gate",
    "check_exposure",
    "current_principal",
    "is_loopback",
]

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CLIENT_HEADER = "X-Rosweb-Client"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_LIMIT = "10/minute"
#: logged-out sessions remembered (each until its cookie would have expired anyway)
REVOKED_LIMIT = 100_000
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

#: endpoints anyone may reach: the login page, assets, the API's index and spec, and the
#: WebSocket (its sessions authenticate themselves: a token, the cookie or an ``auth`` op)
PUBLIC_ENDPOINTS = frozenset(
    {
        "rosweb_auth.login",
        "rosweb_auth.login_form",
        "rosweb_ui.static",
        "rosweb_widgets.static",
        "static",
        "rosweb_api.index",
        "rosweb_api.openapi",
        "rosweb_bridge",
    }
)

#: endpoint -> method -> least role, where the rule (reads: viewer, writes: operator) differs
REQUIREMENTS: dict[str, dict[str, str]] = {
    "rosweb_api.estop_engage": {"POST": "viewer"},  # anyone authenticated may stop the robot
    "rosweb_auth.logout": {"POST": "viewer"},
    "rosweb_webrtc.offer": {"POST": "viewer"},  # watching a camera over WebRTC, as MJPEG
    "rosweb_webrtc.close": {"DELETE": "viewer"},  # one's own session (the view checks)
}


def required_role(endpoint: str, method: str) -> str | None:
    """The least role for ``method`` on ``endpoint``; None if public."""
    if endpoint in PUBLIC_ENDPOINTS:
        return None
    special = REQUIREMENTS.get(endpoint, {}).get(method)
    if special is not None:
        return special
    return "viewer" if method in SAFE_METHODS else "operator"


def is_loopback(host: str) -> bool:
    """True for loopback addresses and ``localhost``."""
    host = host.strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Mapping[str, Any]) -> None:
    """Refuse to serve beyond loopback with authentication off (unless ``ROSWEB_INSECURE``)."""
    host = settings["ROSWEB_HOST"]
    if is_loopback(host) or settings["ROSWEB_USERS"] or settings["ROSWEB_INSECURE"]:
        return
    raise ConfigError(
        f"refusing to serve on {host} without authentication: anyone on the network could drive "
        "the robot. Add a user (rosweb user add NAME --role admin --config rosweb.toml, then "
        "rosweb run --config rosweb.toml), or pass --insecure if this network is yours alone."
    )


def _hostname(host_header: str) -> str:
    return urlsplit(f"//{host_header}").hostname or ""


class Gate:
    """Authentication, roles, origins and rate limits: one instance per app."""

    def __init__(
        self,
        settings: Mapping[str, Any],
        *,
        audit: Audit | None = None,
        session_reader: Callable[[str], Mapping[str, Any] | None] | None = None,
    ) -> None:
        self.auth = Auth(settings)
        self.policy = self.auth.policy
        self.audit = audit or Audit()
        self.insecure: bool = settings["ROSWEB_INSECURE"]
        self.origins: list[str] = list(settings["ROSWEB_CORS_ORIGINS"])
        self.session_reader = session_reader
        self.cookie_name = "session"  # the login cookie (the app's SESSION_COOKIE_NAME)
        self.session_lifetime = float(settings["ROSWEB_SESSION_LIFETIME"])
        #: login sessions ended by /logout (sid -> when its cookie would have expired): a
        #: copied cookie reads and writes nothing after its user logged out
        self._revoked: dict[str, float] = {}
        self._revoked_lock = threading.Lock()
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._limits: dict[str, RateLimitItem | None] = {
            "rest": _limit(settings, "ROSWEB_RATE_LIMIT"),
            "ws": _limit(settings, "ROSWEB_WS_RATE_LIMIT"),
            "login": parse(LOGIN_LIMIT),
        }

    # -- who ------------------------------------------------------------------------------------

    def identify(
        self,
        *,
        remote_addr: str,
        host: str,
        authorization: str | None = None,
        token: str | None = None,
        cookie: str | None = None,
        client: str | None = None,
    ) -> Principal:
        """The principal of a request; AuthError (401) or PermissionDenied (403) otherwise."""
        if not self.auth.enabled and not self.insecure:
            if not is_loopback(remote_addr):
                raise PermissionDenied(
                    "authentication is off, so only this machine may connect (add users)"
                )
            if not is_loopback(_hostname(host)):
                raise PermissionDenied(
                    f"authentication is off: host {host!r} is not a loopback name "
                    "(DNS rebinding is refused)"
                )
        session_data = self.session_reader(cookie) if cookie and self.session_reader else None
        session_user = session_data.get("user") if session_data else None
        client_id = client if client and _CLIENT_ID.match(client) else ""
        if not client_id and session_data and session_user:
            client_id = str(session_data.get("sid", ""))
        principal = self.auth.identify(
            authorization=authorization, token=token, session_user=session_user, client=client_id
        )
        if principal is None:
            raise AuthError(
                "authentication required: log in, or send Authorization: Bearer <token>"
                if not (authorization or token)
                else "invalid or unknown token"
            )
        return principal

    @staticmethod
    def require(principal: Principal, role: str, what: str = "this") -> None:
        if not principal.at_least(role):
            raise PermissionDenied(f"{what} needs role {role} (you are {principal.role})")

    def revoke(self, sid: str) -> None:
        """End a login session for good (its cookie no longer identifies anyone)."""
        if not sid:
            return
        now = time.monotonic()
        with self._revoked_lock:
            self._revoked[sid] = now + self.session_lifetime
            if len(self._revoked) > REVOKED_LIMIT:  # expired first, then the oldest
                for old in [k for k, t in self._revoked.items() if t < now]:
                    del self._revoked[old]
                while len(self._revoked) > REVOKED_LIMIT:
                    del self._revoked[next(iter(self._revoked))]

    def revoked(self, sid: Any) -> bool:
        with self._revoked_lock:
            return isinstance(sid, str) and sid in self._revoked

    # -- from elsewhere -------------------------------------------------------------------------

    def origin_allowed(self, origin: str | None, host: str) -> bool:
        """A request's Origin is the server's own, configured, or absent (not a browser)."""
        if not origin:
            return True
        if "*" in self.origins or origin.rstrip("/") in self.origins:
            return True
        return urlsplit(origin).netloc.lower() == host.lower()

    # -- not too often --------------------------------------------------------------------------

    def hit(self, scope: str, key: str) -> None:
        """Count one write of ``key`` in ``scope`` (rest, ws, login); RateLimited past the limit."""
        item = self._limits[scope]
        if item is not None and not self._limiter.hit(item, scope, key):
            raise RateLimited(f"too many requests: at most {item} per client")

    def allowance(self, scope: str = "ws") -> Allowance | None:
        """A new connection's own allowance of ``scope``'s limit (None: no limit)."""
        item = self._limits[scope]
        return None if item is None else Allowance(item)

    def identify_tornado(self, handler: Any) -> Principal:
        """The principal of a native Tornado request (SSE, MJPEG): the same rules."""
        request = handler.request
        return self.identify(
            remote_addr=request.remote_ip or "",
            host=request.host,
            authorization=request.headers.get("Authorization"),
            token=handler.get_query_argument("token", None),
            cookie=handler.get_cookie(self.cookie_name),
            client=request.headers.get(CLIENT_HEADER) or handler.get_query_argument("client", None),
        )

    def who(self, principal: Principal, remote: str = "") -> dict[str, Any]:
        """The audit log's description of a principal."""
        return {**principal.describe(), "remote": remote}


class Allowance:
    """One connection's rate limit, a token bucket: ``amount`` writes at once, refilled at
    ``amount`` per period. Asking costs a clock read and a few additions, so that refusing a
    flood costs next to nothing (``limits``' shared storage takes a lock and about 6 us a hit,
    more than the rest of refusing a frame)."""

    __slots__ = ("_last", "_left", "_rate", "capacity", "text")

    def __init__(self, item: RateLimitItem) -> None:
        self.capacity = float(item.amount)
        self._rate = item.amount / item.get_expiry()  # writes per second
        self._left = self.capacity
        self._last = time.monotonic()
        self.text = f"too many requests: at most {item} per client"

    def take(self) -> bool:
        """One write: True if allowed now."""
        now = time.monotonic()
        left = min(self.capacity, self._left + (now - self._last) * self._rate)
        self._last = now
        if left < 1.0:
            self._left = left
            return False
        self._left = left - 1.0
        return True

    def available(self) -> bool:
        """Whether a write would be allowed now (nothing is counted)."""
        return self._left + (time.monotonic() - self._last) * self._rate >= 1.0

    def wait(self, batch: float = 0.01) -> float:
        """Seconds until a write is allowed (0.0: now), nothing counted; when it is not, until
        ``batch`` seconds' worth of writes are (at least one, at most a burst), so that a reader
        paused by it wakes up for several frames at a time, not one."""
        left = self._left + (time.monotonic() - self._last) * self._rate
        if left >= 1.0:
            return 0.0
        wanted = min(self.capacity, max(1.0, self._rate * batch))
        return (wanted - left) / self._rate


def _limit(settings: Mapping[str, Any], key: str) -> RateLimitItem | None:
    text = settings[key].strip()
    if not text:
        return None
    try:
        return parse(text)
    except ValueError as err:
        raise ConfigError(f"{key}: {err} (expected e.g. '100/second')") from None


# -- Flask ----------------------------------------------------------------------------------------


def current_principal() -> Principal:
    """The principal of the current Flask request (set by the gate)."""
    principal: Principal | None = g.get("rosweb_principal")
    if principal is None:
        raise AuthError("authentication required")
    return principal


def _gate() -> Gate:
    gate: Gate = current_app.extensions["rosweb_gate"]
    return gate


def _wants_html() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html" and not request.path.startswith("/api/")


def _before_request() -> BaseResponse | None:
    gate = _gate()
    endpoint = request.endpoint or ""
    method = request.method
    if method not in SAFE_METHODS and not gate.origin_allowed(
        request.headers.get("Origin"), request.host
    ):
        raise PermissionDenied(f"cross-origin request from {request.headers['Origin']} refused")
    role = required_role(endpoint, method) if request.url_rule is not None else "viewer"
    if role is None or method == "OPTIONS":  # public, or a CORS preflight (carries no credentials)
        return None
    try:
        principal = gate.identify(
            remote_addr=request.remote_addr or "",
            host=request.host,
            authorization=request.headers.get("Authorization"),
            token=request.args.get("token"),
            cookie=request.cookies.get(current_app.config["SESSION_COOKIE_NAME"]),
            client=request.headers.get(CLIENT_HEADER),
        )
    except AuthError:
        if _wants_html():
            return redirect(url_for("rosweb_auth.login_form", next=request.full_path))
        raise
    gate.require(principal, role, f"{method} {request.path}")
    if method not in SAFE_METHODS:
        if principal.via == "session":
            try:
                validate_csrf(request.headers.get(CSRF_HEADER))
            except (CsrfInvalid, CSRFError) as err:
                raise PermissionDenied(
                    f"CSRF check failed ({err}): send the {CSRF_HEADER} header "
                    "(GET /api/whoami gives it)"
                ) from None
        key = principal.operator.key if principal.via != "open" else request.remote_addr
        gate.hit("rest", key or "")
    g.rosweb_principal = principal
    return None
