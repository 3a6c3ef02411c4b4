"""The login views (``/login``, ``/logout``, ``/api/whoami``) and :func:`init_security`, which
installs the gate of :mod:`rosweb.web.security` on an app: hook, views, CSRF, CORS, sessions."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_cors import CORS
from flask_wtf.csrf import generate_csrf  # type: ignore[import-untyped]
from werkzeug.wrappers import Response as BaseResponse

from rosweb.core.audit import Audit
from rosweb.errors import AuthError
from rosweb.web.auth import ROLES
from rosweb.web.errors import ApiError
from rosweb.web.security import (
    CLIENT_HEADER,
    Gate,
    _before_request,
    _gate,
    current_principal,
)

__all__ = ["auth_blueprint", "init_security"]

auth_blueprint = Blueprint("rosweb_auth", __name__)


@auth_blueprint.get("/login")
def login_form() -> str:
    return render_template("rosweb/login.html", next=_safe_next(request.args.get("next")))


@auth_blueprint.post("/login")
def login() -> BaseResponse | tuple[Response, int] | str:
    gate = _gate()
    gate.hit("login", request.remote_addr or "")
    data = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(data, Mapping):
        raise ApiError(400, "bad_request", 'expects {"user": ..., "password": ...}')
    user, password = data.get("user"), data.get("password")
    if not isinstance(user, str) or not isinstance(password, str):
        raise ApiError(400, "bad_request", "expects the fields user and password (strings)")
    principal = gate.auth.login(user, password) if gate.auth.enabled else None
    remote = request.remote_addr or ""
    if principal is None:
        gate.audit.record({"user": user, "remote": remote}, "login", "/login", "refused")
        if not request.is_json:
            page = render_template(
                "rosweb/login.html", next=_safe_next(data.get("next")), error="wrong user name "
                "or password" if gate.auth.enabled else "authentication is off",
            )  # fmt: skip
            return Response(page, status=401, mimetype="text/html")
        raise AuthError("wrong user name or password")
    session.clear()
    session.permanent = True
    session["user"] = principal.user
    session["sid"] = secrets.token_urlsafe(12)
    gate.audit.record(gate.who(principal, remote), "login", "/login")
    if not request.is_json:
        return redirect(_safe_next(data.get("next")))
    return jsonify(user=principal.user, role=principal.role, csrf_token=generate_csrf())


@auth_blueprint.post("/logout")
def logout() -> BaseResponse:
    _gate().revoke(str(session.get("sid", "")))
    session.clear()
    if request.is_json or request.path.startswith("/api/"):
        return jsonify(user=None)
    return redirect(url_for("rosweb_auth.login_form"))


@auth_blueprint.get("/api/whoami")
def whoami() -> Response:
    """Who the server thinks you are, and the CSRF token for cookie-authenticated writes."""
    principal = current_principal()
    gate = _gate()
    return jsonify(
        **principal.describe(),
        auth=gate.auth.enabled,
        roles=list(ROLES),
        csrf_token=generate_csrf() if principal.via == "session" else None,
    )


def _safe_next(target: Any) -> str:
    """Only a path on this server (never //other.host or a scheme): no open redirect."""
    if isinstance(target, str) and target.startswith("/") and not target.startswith("//"):
        return target.rstrip("?") or "/"
    return "/"


def init_security(app: Flask, settings: Mapping[str, Any], audit: Audit) -> Gate:
    """Install the gate on ``app``: hook, login routes, CSRF, CORS, sessions, body limit."""
    secret = settings["ROSWEB_SECRET_KEY"] or app.config.get("SECRET_KEY")
    if not secret:
        secret = secrets.token_hex(32)  # sessions end with the process; set one to keep them
    app.config["SECRET_KEY"] = secret
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if settings["ROSWEB_CERT"]:
        app.config["SESSION_COOKIE_SECURE"] = True
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
        seconds=settings["ROSWEB_SESSION_LIFETIME"]
    )
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # valid for the session's life
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = settings["ROSWEB_MAX_BODY"]
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    max_age = settings["ROSWEB_SESSION_LIFETIME"]

    def read_session(cookie: str) -> Mapping[str, Any] | None:
        try:
            data = serializer.loads(cookie, max_age=max_age)
        except Exception:  # forged, expired or from another key: no session
            return None
        if not isinstance(data, Mapping) or gate.revoked(data.get("sid")):
            return None
        return data

    gate = Gate(settings, audit=audit, session_reader=read_session)
    gate.cookie_name = app.config["SESSION_COOKIE_NAME"]
    app.extensions["rosweb_gate"] = gate
    app.register_blueprint(auth_blueprint)
    app.before_request(_before_request)
    if gate.origins:
        CORS(
            app,
            resources={r"/api/*": {"origins": gate.origins}},
            allow_headers=["Authorization", "Content-Type", CLIENT_HEADER],
            expose_headers=["Retry-After"],
        )
    return gate
