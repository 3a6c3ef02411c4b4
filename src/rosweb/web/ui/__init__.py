"""The browser UI: one page with tabs (Drive, Watch, Topics, Plot, Log, Diagnostics, Graph,
Services, Parameters).

Server-rendered with Jinja, live through plain JavaScript modules (no build step) that speak
rosweb's own REST API and its rosbridge WebSocket (``static/js/rosweb.js``). Every asset is
vendored under ``static/vendor/`` with its version in its name, so the page works offline.

``register_ui(app)`` adds it to an app (``create_app`` does); the parameter controls come from the
Jinja macros of ``templates/rosweb/_macros.html`` (``checkbox``, ``slider``, ``number``, ``text``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, render_template, request, url_for
from flask_wtf.csrf import generate_csrf  # type: ignore[import-untyped]

from rosweb import __version__
from rosweb.core import GuardedRobot
from rosweb.errors import RosWebError
from rosweb.web.security import current_principal
from rosweb.web.state import get_state, request_robot

__all__ = ["ParamControl", "param_controls", "register_ui", "static_url", "ui"]

STATIC = Path(__file__).parent / "static"
#: a content-hashed URL never changes: browsers may keep it for a year
HASHED_MAX_AGE = 365 * 24 * 3600


class _UiBlueprint(Blueprint):
    def get_send_file_max_age(self, filename: str | None) -> int | None:
        if request.args.get("v"):
            return HASHED_MAX_AGE
        return super().get_send_file_max_age(filename)


ui = _UiBlueprint(
    "rosweb_ui",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/ui/static",
)

_hashes: dict[str, tuple[int, int, str]] = {}
_hashes_lock = threading.Lock()


def _digest(filename: str) -> str:
    """The first 10 hex digits of the file's SHA-256, cached while its mtime and size hold."""
    path = STATIC / filename
    stat = path.stat()
    with _hashes_lock:
        cached = _hashes.get(filename)
    if cached is not None and cached[:2] == (stat.st_mtime_ns, stat.st_size):
        return cached[2]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    with _hashes_lock:
        _hashes[filename] = (stat.st_mtime_ns, stat.st_size, digest)
    return digest


def static_url(filename: str) -> str:
    """The URL of a UI asset with a content hash (``?v=``) for cache-busting."""
    return url_for("rosweb_ui.static", filename=filename, v=_digest(filename))


def _import_map() -> dict[str, dict[str, str]]:
    """Maps each module's plain URL to its hashed one, so relative ``import``s are cache-busted."""
    imports = {}
    for path in sorted((STATIC / "js").glob("*.js")):
        filename = f"js/{path.name}"
        imports[url_for("rosweb_ui.static", filename=filename)] = static_url(filename)
    return {"imports": imports}


def _client_config() -> dict[str, Any]:
    """What the page's scripts need to know about the server (paths honour SCRIPT_NAME)."""
    root = request.script_root
    return {
        "root": root,
        "bridge": root + current_app.config["ROSWEB_BRIDGE_PATH"],
        "camera_width": 640,
        "goal_topic": _goal_topic(),
    }


def _goal_topic() -> str:
    """``ROSWEB_GOAL_TOPIC``, or where the middleware's navigation listens: Nav2's
    ``/goal_pose`` on ROS 2, move_base's ``/move_base_simple/goal`` otherwise."""
    topic: str = current_app.config["ROSWEB_GOAL_TOPIC"]
    if topic:
        return topic
    return "/goal_pose" if get_state().robot.local.types.ros2 else "/move_base_simple/goal"


# -- parameters -----------------------------------------------------------------------------------


class ParamControl(dict[str, Any]):
    """One parameter as the macros render it: ``name``, ``value``, ``meta`` and ``kind``
    (``checkbox``, ``slider``, ``number``, ``text`` or ``json``)."""


def _kind(value: Any, meta: dict[str, Any]) -> str:
    if isinstance(value, bool):
        return "checkbox"
    if isinstance(value, int | float):
        numeric_range = isinstance(meta.get("min"), int | float) and isinstance(
            meta.get("max"), int | float
        )
        return "slider" if numeric_range else "number"
    if isinstance(value, str):
        return "text"
    return "json"


def param_controls(
    robot: GuardedRobot, meta: dict[str, dict[str, Any]], names: list[str] | None = None
) -> list[tuple[str, list[ParamControl]]]:
    """The robot's parameters (or those ``names``) grouped by namespace (``/robot``), each with
    its control kind."""
    groups: dict[str, list[ParamControl]] = {}
    for name in robot.param_names() if names is None else names:
        try:
            value = robot.get_param(name)
        except RosWebError:  # deleted since it was listed
            continue
        info = dict(meta.get(name, {}))
        namespace = name.rsplit("/", 1)[0] or "/"
        control = ParamControl(name=name, value=value, meta=info, kind=_kind(value, info))
        control["label"] = name.rsplit("/", 1)[1].replace("_", " ")
        control["id"] = "param" + name.replace("/", "-").replace("~", "_")
        control["json"] = json.dumps(value)
        groups.setdefault(namespace, []).append(control)
    return sorted(groups.items())


# -- views ----------------------------------------------------------------------------------------


def _visible_params() -> list[tuple[str, list[ParamControl]]]:
    robot = request_robot("ui")
    return param_controls(robot, robot.param_meta(), robot.param_names())


@ui.get("/")
def index() -> str:
    state = get_state()
    principal = current_principal()
    auth = state.gate.auth.enabled
    csrf_token = generate_csrf() if principal.via == "session" else ""
    client_config = {
        **_client_config(),
        # who the page is: the scripts show it, send the CSRF token with their writes and
        # recognise this user's lease; the control state avoids a flash before the first poll
        "user": principal.user,
        "role": principal.role,
        "auth": auth,
        "csrf_token": csrf_token,
        "control": state.robot.local.control_state(),
        # the lease's key for this page when every caller is one operator (no users)
        "operator": None if auth else state.bind(principal).operator,
    }
    return render_template(
        "rosweb/index.html",
        version=__version__,
        backend=state.robot.url,
        principal=principal,
        auth=auth,
        csrf_token=csrf_token,
        param_groups=_visible_params(),
        import_map=_import_map(),
        client_config=client_config,
    )


@ui.get("/ui/params")
def params_panel() -> Response:
    """The parameter controls alone, for the page to refresh them."""
    html = render_template("rosweb/_params.html", param_groups=_visible_params())
    return Response(html, mimetype="text/html")


def register_ui(app: Flask) -> None:
    """Serve the browser UI at ``/`` (assets under ``/ui/static``)."""
    app.register_blueprint(ui)
    app.add_template_global(static_url, "static")
