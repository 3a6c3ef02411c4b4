"""Who is calling, and what they may see and do: roles, allow/deny lists, per-role limits.

Roles are ordered: ``viewer`` (read what it may see; press the e-stop) < ``operator`` (also
publish, call services, set params, drive) < ``admin`` (also take over the control lease).

Names are filtered by glob lists per kind (topics, services, params): a name is visible if it
matches an allow pattern and no deny pattern, of the settings (``ROSWEB_ALLOW_TOPICS``...) and of
the caller's role (``[roles.viewer] deny_topics = [...]``). This module knows no HTTP: the web
side turns credentials into a :class:`Caller` (:mod:`rosweb.web.auth`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from rosweb.control import Operator
from rosweb.errors import ConfigError, PermissionDenied

__all__ = ["KINDS", "LOCAL", "ROLES", "Caller", "Policy"]

#: role -> rank; a role may do what every lower one may
ROLES = {"viewer": 1, "operator": 2, "admin": 3}
KINDS = ("topic", "service", "param")
_ROLE_KEYS = {
    *(f"{verb}_{kind}s" for verb in ("allow", "deny") for kind in KINDS),
    "max_linear_speed",
    "max_angular_speed",
}


@dataclass(frozen=True)
class Caller:
    """Who calls: user, role, which client (tab, script), and how they proved it (``open`` when
    authentication is off, ``token``, ``session``, ``anonymous``; ``local`` for the app's own
    code)."""

    user: str
    role: str
    client: str = ""
    via: str = "open"

    def at_least(self, role: str) -> bool:
        return ROLES[self.role] >= ROLES[role]

    @property
    def operator(self) -> Operator:
        return Operator(self.user, self.client)

    def describe(self) -> dict[str, Any]:
        return {"user": self.user, "role": self.role, "client": self.client, "via": self.via}


class Policy:
    """Allow/deny globs per kind, global and per role; per-role velocity limits."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self._global = {
            kind: (
                list(settings.get(f"ROSWEB_ALLOW_{kind.upper()}S", ["*"])),
                list(settings.get(f"ROSWEB_DENY_{kind.upper()}S", [])),
            )
            for kind in KINDS
        }
        roles: Mapping[str, Any] = settings.get("ROSWEB_ROLES", {})
        for role, table in roles.items():
            if role not in ROLES:
                raise ConfigError(f"ROSWEB_ROLES: unknown role {role!r}, expected {list(ROLES)}")
            unknown = set(table) - _ROLE_KEYS
            if unknown:
                raise ConfigError(
                    f"ROSWEB_ROLES.{role}: unknown key {sorted(unknown)[0]!r}, "
                    f"expected {sorted(_ROLE_KEYS)}"
                )
            for key, value in table.items():
                is_limit = key.startswith("max_")
                if is_limit and not (isinstance(value, int | float) and value >= 0):
                    raise ConfigError(f"ROSWEB_ROLES.{role}.{key}: expects a number >= 0")
                if not is_limit and not (
                    isinstance(value, list) and all(isinstance(v, str) for v in value)
                ):
                    raise ConfigError(f"ROSWEB_ROLES.{role}.{key}: expects a list of globs")
        self._roles = {role: dict(table) for role, table in roles.items()}

    def visible(self, principal: Caller, kind: str, name: str) -> bool:
        allow, deny = self._global[kind]
        role = self._roles.get(principal.role, {})
        allow = role.get(f"allow_{kind}s", allow)
        deny = [*deny, *role.get(f"deny_{kind}s", [])]
        return any(fnmatchcase(name, p) for p in allow) and not any(
            fnmatchcase(name, p) for p in deny
        )

    def check(self, principal: Caller, kind: str, name: str) -> None:
        """Raise PermissionDenied unless ``name`` is exposed to ``principal``."""
        if not self.visible(principal, kind, name):
            raise PermissionDenied(f"{kind} {name} is not exposed to role {principal.role}")

    def filter(self, principal: Caller, kind: str, names: Iterable[str]) -> list[str]:
        return [name for name in names if self.visible(principal, kind, name)]

    def prune(self, principal: Caller, name: str, value: Any) -> Any:
        """A parameter value without the hidden parameters under it (for a namespace's dict)."""
        if not isinstance(value, dict):
            return value
        kept = {}
        for key, item in value.items():
            child = f"{name.rstrip('/')}/{key}"
            if isinstance(item, dict) or self.visible(principal, "param", child):
                kept[key] = self.prune(principal, child, item)
        return kept

    def limits(self, principal: Caller) -> tuple[float | None, float | None]:
        """The role's (max linear, max angular) velocity, None where it sets none."""
        role = self._roles.get(principal.role, {})
        return role.get("max_linear_speed"), role.get("max_angular_speed")


#: the app's own Python code (routes, threads, CLI commands of the host app): trusted like an
#: admin for names, still guarded for motion (e-stop, lease, limits, deadman)
LOCAL = Caller("app", "admin", "local", "local")
