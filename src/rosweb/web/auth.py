"""Who is asking, and what they may see and do: users, tokens, roles, allow/deny lists.

Roles are ordered: ``viewer`` (read what it may see; press the e-stop) < ``operator`` (also
publish, call services, set params, drive) < ``admin`` (also take over the control lease).

Users live in the config (``ROSWEB_USERS``, the ``[users.NAME]`` tables of the TOML file) with a
password hash (werkzeug's, as ``rosweb user add`` writes it) and SHA-256 hashes of their API
tokens. With no user configured, authentication is off and everyone is an ``admin`` called
``anonymous``: allowed on loopback only (``rosweb run`` refuses anything else without
``--insecure``).

Names are filtered by glob lists per kind (topics, services, params): a name is visible if it
matches an allow pattern and no deny pattern, of the settings (``ROSWEB_ALLOW_TOPICS``...) and of
the principal's role (``[roles.viewer] deny_topics = [...]``). This module knows no HTTP: the
Flask and Tornado sides hand it headers and cookies' contents.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from rosweb.control import Operator
from rosweb.errors import ConfigError, PermissionDenied

__all__ = [
    "KINDS",
    "ROLES",
    "Auth",
    "Policy",
    "Principal",
    "hash_password",
    "hash_token",
    "new_token",
]

#: role -> rank; a role may do what every lower one may
ROLES = {"viewer": 1, "operator": 2, "admin": 3}
KINDS = ("topic", "service", "param")
_ROLE_KEYS = {
    *(f"{verb}_{kind}s" for verb in ("allow", "deny") for kind in KINDS),
    "max_linear_speed",
    "max_angular_speed",
}
_USER_KEYS = {"role", "password", "tokens"}


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def new_token() -> str:
    """A new API token (shown once; only its hash is stored)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: user, role, which client (tab, script), and how they proved it
    (``open`` when authentication is off, ``token``, ``session`` or ``anonymous``)."""

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

    def visible(self, principal: Principal, kind: str, name: str) -> bool:
        allow, deny = self._global[kind]
        role = self._roles.get(principal.role, {})
        allow = role.get(f"allow_{kind}s", allow)
        deny = [*deny, *role.get(f"deny_{kind}s", [])]
        return any(fnmatchcase(name, p) for p in allow) and not any(
            fnmatchcase(name, p) for p in deny
        )

    def check(self, principal: Principal, kind: str, name: str) -> None:
        """Raise PermissionDenied unless ``name`` is exposed to ``principal``."""
        if not self.visible(principal, kind, name):
            raise PermissionDenied(f"{kind} {name} is not exposed to role {principal.role}")

    def filter(self, principal: Principal, kind: str, names: Iterable[str]) -> list[str]:
        return [name for name in names if self.visible(principal, kind, name)]

    def prune(self, principal: Principal, name: str, value: Any) -> Any:
        """A parameter value without the hidden parameters under it (for a namespace's dict)."""
        if not isinstance(value, dict):
            return value
        kept = {}
        for key, item in value.items():
            child = f"{name.rstrip('/')}/{key}"
            if isinstance(item, dict) or self.visible(principal, "param", child):
                kept[key] = self.prune(principal, child, item)
        return kept

    def limits(self, principal: Principal) -> tuple[float | None, float | None]:
        """The role's (max linear, max angular) velocity, None where it sets none."""
        role = self._roles.get(principal.role, {})
        return role.get("max_linear_speed"), role.get("max_angular_speed")


class Auth:
    """Users and tokens from the config; turns credentials into a :class:`Principal`."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.policy = Policy(settings)
        self._users: dict[str, dict[str, Any]] = {}
        self._tokens: dict[str, str] = {}  # token hash -> user
        for name, table in settings.get("ROSWEB_USERS", {}).items():
            unknown = set(table) - _USER_KEYS
            if unknown:
                raise ConfigError(f"ROSWEB_USERS.{name}: unknown key {sorted(unknown)[0]!r}")
            role = table.get("role", "viewer")
            if role not in ROLES:
                raise ConfigError(f"ROSWEB_USERS.{name}: unknown role {role!r}")
            tokens = table.get("tokens", [])
            if not isinstance(tokens, list) or not all(
                isinstance(t, str) and t.startswith("sha256:") for t in tokens
            ):
                raise ConfigError(
                    f"ROSWEB_USERS.{name}.tokens: expects token hashes (sha256:...), as "
                    "`rosweb user add --token` writes them"
                )
            self._users[name] = {"role": role, "password": table.get("password", "")}
            for token_hash in tokens:
                self._tokens[token_hash] = name
        anonymous = settings.get("ROSWEB_ANONYMOUS_ROLE", "")
        if anonymous and anonymous not in ROLES:
            raise ConfigError(f"ROSWEB_ANONYMOUS_ROLE: unknown role {anonymous!r}")
        self.anonymous_role = anonymous
        self._dummy_hash = ""  # made at the first login of an unknown user

    @property
    def enabled(self) -> bool:
        """Authentication is on when at least one user is configured."""
        return bool(self._users)

    def role_of(self, user: str) -> str | None:
        entry = self._users.get(user)
        return entry["role"] if entry else None

    def login(self, user: str, password: str, client: str = "") -> Principal | None:
        """The principal of a correct user name and password; None otherwise."""
        entry = self._users.get(user)
        if not (entry and entry["password"]) and not self._dummy_hash:
            self._dummy_hash = generate_password_hash(secrets.token_hex(8))
        stored = entry["password"] if entry and entry["password"] else self._dummy_hash
        ok = check_password_hash(stored, password)  # also when the user is unknown: same time
        if not ok or entry is None or not entry["password"]:
            return None
        return Principal(user, entry["role"], client, "session")

    def from_token(self, token: str, client: str = "") -> Principal | None:
        digest = hash_token(token)
        for known, user in self._tokens.items():
            if hmac.compare_digest(known, digest):
                return Principal(user, self._users[user]["role"], client, "token")
        return None

    def identify(
        self,
        *,
        authorization: str | None = None,
        token: str | None = None,
        session_user: str | None = None,
        client: str = "",
    ) -> Principal | None:
        """Who sent a request: an ``Authorization: Bearer`` header, a ``token`` (query
        parameter, rosbridge auth op) or a logged-in session's user; None when unknown."""
        if not self.enabled:
            return Principal("anonymous", "admin", client, "open")
        if authorization:
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() == "bearer" and value.strip():
                return self.from_token(value.strip(), client)
            return None
        if token:
            return self.from_token(token, client)
        if session_user:
            role = self.role_of(session_user)
            return Principal(session_user, role, client, "session") if role else None
        if self.anonymous_role:
            return Principal("anonymous", self.anonymous_role, client, "anonymous")
        return None
