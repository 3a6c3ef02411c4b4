"""The fleet server's pages and routes (a backend ``mqtt://``): the fleet page, one robot's scope.

- ``GET /fleet``: a card per robot (online, battery, pose, camera thumbnail, who drives) and the
  fleet-wide e-stop (``POST /api/estop`` on a fleet server).
- ``GET /api/robots``, ``GET /api/robots/<name>``: the cards as JSON.
- ``/robots/<name>/...``: the whole API and UI scoped to one robot. The usual page with its tabs
  (``/robots/<name>/``), and under ``/robots/<name>/api/``: ``topics``, ``services`` and ``params``
  list that robot's names only (in the fleet's namespace, ``/r1/odom``), and ``teleop``,
  ``control`` and ``estop`` are that robot's (its lease, taken in the person's name, its own
  e-stop). Every other path under the scope is the server's own route (``/robots/r1/api/topics/
  r1/odom`` is ``/api/topics/r1/odom``), so ``Client("http://fleet:8080/robots/r1")`` and
  ``rosweb --url http://fleet:8080/robots/r1 ...`` work as against a single robot.

The fleet side checks the person's role and the allow/deny lists; each robot checks again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, render_template, request
from flask_wtf.csrf import generate_csrf  # type: ignore[import-untyped]

from rosweb import __version__
from rosweb.control import COMMANDS
from rosweb.core import GuardedRobot
from rosweb.core.fleet import FleetPort, RobotPort
from rosweb.errors import NotFoundError, ValidationError
from rosweb.web.security import REQUIREMENTS, current_principal
from rosweb.web.state import get_state, request_robot
from rosweb.web.ui import _client_config, _import_map, param_controls

__all__ = ["fleet_blueprint", "register_fleet"]

fleet_blueprint = Blueprint("rosweb_fleet", __name__)

SCOPE = re.compile(r"^/robots/([A-Za-z][A-Za-z0-9_-]{0,62})(/.*)?$")
#: paths of a robot's scope answered for that robot; any other is the server's own route
OWN = frozenset({"/", "/api/topics", "/api/services", "/api/params", "/api/teleop",
                 "/api/control", "/api/estop", "/ui/params"})  # fmt: skip


class RobotScope:
    """WSGI middleware: ``/robots/<name>/PATH`` is the server's own ``PATH`` unless the
    blueprint answers it for that robot (:data:`OWN`)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        found = SCOPE.match(environ.get("PATH_INFO", ""))
        if found is not None:
            environ["rosweb.fleet_robot"] = found.group(1)
            rest = found.group(2) or "/"
            if rest not in OWN:
                environ = {**environ, "PATH_INFO": rest}
        return self.app(environ, start_response)


def _fleet() -> FleetPort:
    fleet = get_state().robot.fleet
    if fleet is None:
        raise NotFoundError("fleet", "", "this server serves one robot, not a fleet")
    return fleet


def _one(name: str) -> tuple[GuardedRobot, RobotPort]:
    """The person's guarded fleet robot and the robot ``name`` (404 unless they may see it)."""
    robot = request_robot("rest")
    port = _fleet().robot(name)
    robot.see("topic", port.info()["topic"])
    g.fleet_robot = name
    return robot, port


def _who(robot: GuardedRobot) -> dict[str, str]:
    caller = robot.caller
    return {"user": caller.user, "role": caller.role, "client": caller.client}


def _record(robot: GuardedRobot, action: str, target: str, **detail: Any) -> None:
    get_state().robot.audit.record(robot.who, action, target, **detail)


def _visible_cards(robot: GuardedRobot) -> list[dict[str, Any]]:
    fleet = _fleet()
    return [card for card in fleet.cards()
            if robot.visible("topic", fleet.robot(card["name"]).info()["topic"])]  # fmt: skip


def _prefixed(name: str, items: dict[str, str]) -> dict[str, str]:
    head = f"/{name}/"
    return {n: t for n, t in items.items() if n.startswith(head)}


# -- the fleet ------------------------------------------------------------------------------------


@fleet_blueprint.get("/fleet")
def fleet_page() -> str:
    state = get_state()
    principal = current_principal()
    csrf_token = generate_csrf() if principal.via == "session" else ""
    client_config = {**_client_config(), "user": principal.user, "role": principal.role,
                     "auth": state.gate.auth.enabled, "csrf_token": csrf_token}  # fmt: skip
    return render_template(
        "rosweb/fleet.html", version=__version__, backend=state.robot.url, principal=principal,
        auth=state.gate.auth.enabled, import_map=_import_map(), client_config=client_config,
    )  # fmt: skip


@fleet_blueprint.get("/api/robots")
def robots() -> Response:
    robot = request_robot("rest")
    return jsonify(robots=_visible_cards(robot), estop=robot.control_state().get("estop"))


@fleet_blueprint.get("/api/robots/<name>")
def robot_card(name: str) -> Response:
    robot, port = _one(name)
    card = port.card()
    card.update(control=port.state(), teleop=port.info(), topics=_prefixed(name, robot.topics()))
    return jsonify(card)


# -- one robot's scope ----------------------------------------------------------------------------


@fleet_blueprint.get("/robots/<name>/")
def robot_page(name: str) -> str:
    robot, port = _one(name)
    state = get_state()
    principal = current_principal()
    csrf_token = generate_csrf() if principal.via == "session" else ""
    names = [n for n in robot.param_names() if n.startswith(f"/{name}/")]
    client_config = {
        **_client_config(), "root": f"{request.script_root}/robots/{name}",
        "user": principal.user, "role": principal.role, "auth": state.gate.auth.enabled,
        "csrf_token": csrf_token, "control": port.state(), "robot": name,
        # the lease's key for this page when every caller is one operator (no users), as ui's
        "operator": None if state.gate.auth.enabled else state.bind(principal).operator,
    }  # fmt: skip
    return render_template(
        "rosweb/index.html", version=__version__, backend=f"{state.robot.url} · {name}",
        principal=principal, auth=state.gate.auth.enabled, csrf_token=csrf_token,
        param_groups=param_controls(robot, robot.param_meta(), names),
        import_map=_import_map(), client_config=client_config,
    )  # fmt: skip


@fleet_blueprint.get("/robots/<name>/ui/params")
def robot_params_panel(name: str) -> Response:
    robot, _ = _one(name)
    names = [n for n in robot.param_names() if n.startswith(f"/{name}/")]
    groups = param_controls(robot, robot.param_meta(), names)
    html = render_template("rosweb/_params.html", param_groups=groups)
    return Response(html, mimetype="text/html")


@fleet_blueprint.get("/robots/<name>/api/topics")
def robot_topics(name: str) -> Response:
    robot, _ = _one(name)
    items = sorted(_prefixed(name, robot.topics()).items())
    return jsonify(topics=[{"name": n, "type": t} for n, t in items])


@fleet_blueprint.get("/robots/<name>/api/services")
def robot_services(name: str) -> Response:
    robot, _ = _one(name)
    items = sorted(_prefixed(name, robot.services()).items())
    return jsonify(services=[{"name": n, "type": t} for n, t in items])


@fleet_blueprint.get("/robots/<name>/api/params")
def robot_params(name: str) -> Response:
    robot, _ = _one(name)
    head = f"/{name}/"
    meta = {n: m for n, m in robot.param_meta().items() if n.startswith(head)}
    return jsonify(params=[n for n in robot.param_names() if n.startswith(head)], meta=meta)


@fleet_blueprint.get("/robots/<name>/api/teleop")
def robot_teleop_info(name: str) -> Response:
    _, port = _one(name)
    return jsonify(port.info())


@fleet_blueprint.post("/robots/<name>/api/teleop")
def robot_teleop(name: str) -> Response:
    robot, port = _one(name)
    info = port.info()
    robot.write("topic", info["topic"])
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or set(body) - {"command", "speed"}:
        raise ValidationError('expects an object like {"command": "forward", "speed": 0.5}')
    if not isinstance(body.get("command"), str):
        raise ValidationError(f"expects one of {list(COMMANDS)}", "command")
    max_linear, max_angular = get_state().robot.policy.limits(robot.caller)
    twist = port.command(body["command"], body.get("speed", 1.0), **_who(robot),
                         max_linear=max_linear, max_angular=max_angular)  # fmt: skip
    _record(robot, "teleop", f"{name}:{body['command']}")
    return jsonify(command=body["command"], topic=info["topic"], twist=twist,
                   timeout=info.get("timeout"))  # fmt: skip


@fleet_blueprint.get("/robots/<name>/api/control")
@fleet_blueprint.get("/robots/<name>/api/estop")
def robot_control_state(name: str) -> Response:
    _, port = _one(name)
    return jsonify(port.state())


@fleet_blueprint.post("/robots/<name>/api/control")
def robot_acquire(name: str) -> Response:
    robot, port = _one(name)
    body = request.get_json(silent=True) if request.content_length else {}
    if not isinstance(body, dict) or set(body) - {"force"}:
        raise ValidationError('expects {} or {"force": true}')
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise ValidationError("expects true or false", "force")
    robot.require("admin" if force else "operator", "taking control")
    state = port.acquire(**_who(robot), force=force)
    _record(robot, "acquire", name, force=force)
    return jsonify(state)


@fleet_blueprint.delete("/robots/<name>/api/control")
def robot_release(name: str) -> Response:
    robot, port = _one(name)
    force = request.args.get("force", "false").lower() == "true"
    robot.require("admin" if force else "operator", "releasing control")
    released = port.release(**_who(robot), force=force)
    _record(robot, "release", name, force=force, released=released)
    return jsonify(released=released, **port.state())


@fleet_blueprint.post("/robots/<name>/api/estop")
def robot_estop(name: str) -> Response:
    robot, port = _one(name)
    state = port.engage_estop(**_who(robot))
    _record(robot, "estop", name)
    return jsonify(state)


@fleet_blueprint.delete("/robots/<name>/api/estop")
def robot_clear_estop(name: str) -> Response:
    robot, port = _one(name)
    robot.require("operator", "clearing the e-stop")
    state = port.clear_estop(**_who(robot))
    _record(robot, "clear_estop", name)
    return jsonify(state)


def register_fleet(app: Flask) -> None:
    """Add the fleet's page and routes to ``app`` when its backend is a fleet (``mqtt://``)."""
    state = app.extensions.get("rosweb")
    if state is None or state.robot.fleet is None:
        return
    REQUIREMENTS["rosweb_fleet.robot_estop"] = {"POST": "viewer"}  # anyone may stop a robot
    app.register_blueprint(fleet_blueprint)
    app.wsgi_app = RobotScope(app.wsgi_app)  # type: ignore[method-assign]

    @app.context_processor
    def fleet_context() -> dict[str, Any]:
        return {"fleet_enabled": True, "fleet_robot": g.get("fleet_robot")}
