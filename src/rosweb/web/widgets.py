"""Widgets for your own templates: the Jinja macros of ``templates/rosweb/macros.html``.

``RosWeb(app)`` registers them, so any template of the host app may write
``{% from "rosweb/macros.html" import slider, camera, teleop_pad %}``. Each macro renders its
markup and, once per page, what it needs: the page's settings (who is logged in, the CSRF
token of the login session, the WebSocket's path), rosweb's stylesheet, an import map of
content-hashed module URLs, and its own ES module (``static/js/widgets/*.js``). Every module
shares one WebSocket per page (``widgets/page.js``) and speaks with the page's session, so with
authentication on the widgets act as the logged-in user: their role, their lease.

Template globals (for the macros; usable by your own templates too):

- ``rosweb_assets(bootstrap=True, uplot=False)``: the page's settings, stylesheets and import
  map, once per page (and uPlot once, when asked);
- ``rosweb_module(path)``: a ``<script type="module">`` of ``static/js/<path>``, once per page;
- ``rosweb_param(name)``: a parameter or property as the current user sees it (name, value,
  meta, kind, id, label, missing);
- ``rosweb_static(path)``: the content-hashed URL of an asset.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, g, request, url_for
from flask_wtf.csrf import generate_csrf  # type: ignore[import-untyped]
from markupsafe import Markup, escape

from rosweb.errors import RosWebError
from rosweb.web.security import current_principal
from rosweb.web.state import get_state, request_robot

__all__ = ["page_config", "param_widget", "register_widgets", "widgets"]

STATIC = Path(__file__).parent / "ui" / "static"
#: a content-hashed URL never changes: browsers may keep it for a year
HASHED_MAX_AGE = 365 * 24 * 3600


class _AssetsBlueprint(Blueprint):
    def get_send_file_max_age(self, filename: str | None) -> int | None:
        if request.args.get("v"):
            return HASHED_MAX_AGE
        return super().get_send_file_max_age(filename)


#: rosweb's templates and static files (``/ui/static``, as the UI's), with no page of its own
widgets = _AssetsBlueprint(
    "rosweb_widgets",
    __name__,
    template_folder="ui/templates",
    static_folder="ui/static",
    static_url_path="/ui/static",
)

_ID = re.compile(r"[^A-Za-z0-9_-]")
_hashes: dict[str, tuple[int, int, str]] = {}
_hashes_lock = threading.Lock()


def _digest(filename: str) -> str:
    """The first 10 hex digits of the file's SHA-256, cached while its mtime and size hold."""
    stat = (STATIC / filename).stat()
    with _hashes_lock:
        cached = _hashes.get(filename)
    if cached is not None and cached[:2] == (stat.st_mtime_ns, stat.st_size):
        return cached[2]
    digest = hashlib.sha256((STATIC / filename).read_bytes()).hexdigest()[:10]
    with _hashes_lock:
        _hashes[filename] = (stat.st_mtime_ns, stat.st_size, digest)
    return digest


def _endpoint() -> str:
    return "rosweb_ui.static" if "rosweb_ui" in current_app.blueprints else "rosweb_widgets.static"


def rosweb_static(filename: str) -> str:
    """The URL of an asset with its content hash (``?v=``) for cache-busting."""
    return url_for(_endpoint(), filename=filename, v=_digest(filename))


def _import_map() -> dict[str, dict[str, str]]:
    """Each module's plain URL -> its hashed one (every ``js/**/*.js``)."""
    endpoint = _endpoint()
    imports = {}
    for path in sorted((STATIC / "js").rglob("*.js")):
        filename = path.relative_to(STATIC).as_posix()
        imports[url_for(endpoint, filename=filename)] = rosweb_static(filename)
    return {"imports": imports}


def page_config() -> dict[str, Any]:
    """What the widgets' scripts need to know: paths, who the page is, the CSRF token of the
    login session, the lease key when every caller is one operator, the control state."""
    state = get_state()
    try:
        principal = current_principal()
    except RosWebError:  # a public page: the widgets read what an anonymous visitor may
        principal = None
    auth = state.gate.auth.enabled
    via = principal.via if principal is not None else "anonymous"
    root = request.script_root
    return {
        "root": root,
        "bridge": root + current_app.config["ROSWEB_BRIDGE_PATH"],
        "camera_width": 640,
        "user": principal.user if principal is not None else "anonymous",
        "role": principal.role if principal is not None else "viewer",
        "auth": auth,
        "csrf_token": generate_csrf() if via == "session" else "",
        "operator": None if auth or principal is None else state.bind(principal).operator,
        "control": state.robot.local.control_state(),
    }


def _script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element."""
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _stylesheet(filename: str) -> str:
    return f'<link rel="stylesheet" href="{rosweb_static(filename)}">'


def rosweb_assets(bootstrap: bool = True, uplot: bool = False) -> Markup:
    """The page's settings, stylesheets and import map, the first time on a page; uPlot's
    script and stylesheet the first time ``uplot`` is asked."""
    done: set[str] = g.setdefault("rosweb_assets", set())
    out: list[str] = []
    if "page" not in done:
        done.add("page")
        out.append(f'<script type="application/json" id="rosweb-config">'
                   f"{_script_json(page_config())}</script>")  # fmt: skip
        out.append(f'<script type="importmap">{_script_json(_import_map())}</script>')
        sheets = ["vendor/bootstrap-5.3.9.min.css"] if bootstrap else []
        out.extend(_stylesheet(name) for name in [*sheets, "css/widgets.css"])
    if uplot and "uplot" not in done:
        done.add("uplot")
        out.append(_stylesheet("vendor/uplot-1.6.32.min.css"))
        out.append(f'<script defer src="{rosweb_static("vendor/uplot-1.6.32.min.js")}"></script>')
    return Markup("\n".join(out))


def rosweb_module(path: str) -> Markup:
    """``<script type="module">`` of ``static/js/<path>``, once per page."""
    done: set[str] = g.setdefault("rosweb_modules", set())
    if path in done:
        return Markup("")
    done.add(path)
    return Markup(f'<script type="module" src="{escape(rosweb_static("js/" + path))}"></script>')


def _kind(value: Any, meta: dict[str, Any]) -> str:
    kind = meta.get("type")
    if isinstance(value, bool) or kind == "bool":
        return "bool"
    if kind == "int" or (kind is None and isinstance(value, int)):
        return "int"
    if kind == "float" or isinstance(value, int | float):
        return "float"
    if kind == "str" or isinstance(value, str):
        return "str"
    return "json"


def param_widget(name: str) -> dict[str, Any]:
    """A parameter (or property) as the current user sees it, for a macro: ``name``,
    ``value`` (None if missing), ``meta``, ``kind`` (bool, int, float, str, json), ``id``,
    ``label``, ``json`` and ``missing`` (the reason it cannot be read, or "")."""
    name = "/" + name.strip().lstrip("/")
    robot = request_robot("ui")
    value: Any = None
    missing = ""
    try:
        value = robot.get_param(name)
        meta = dict(robot.param_meta().get(name, {}))
    except RosWebError as err:
        missing, meta = str(err), {}
    counter = g.setdefault("rosweb_ids", {})
    base = "rw-param" + _ID.sub("-", name)
    counter[base] = counter.get(base, 0) + 1
    return {
        "name": name,
        "value": value,
        "meta": meta,
        "kind": _kind(value, meta),
        "id": base if counter[base] == 1 else f"{base}-{counter[base]}",
        "label": meta.get("label") or name.rsplit("/", 1)[-1].replace("_", " "),
        "json": json.dumps(value),
        "missing": missing,
    }


def widget_id(prefix: str) -> str:
    """A unique element id on this page (``rw-camera-1``...)."""
    counter = g.setdefault("rosweb_ids", {})
    counter[prefix] = counter.get(prefix, 0) + 1
    return f"rw-{prefix}-{counter[prefix]}"


def register_widgets(app: Flask) -> None:
    """Make the macros importable from ``app``'s templates and serve their assets."""
    app.register_blueprint(widgets)
    app.add_template_global(rosweb_static, "rosweb_static")
    app.add_template_global(rosweb_assets, "rosweb_assets")
    app.add_template_global(rosweb_module, "rosweb_module")
    app.add_template_global(param_widget, "rosweb_param")
    app.add_template_global(widget_id, "rosweb_id")
    app.jinja_env.globals.setdefault("static", rosweb_static)  # the login page's
