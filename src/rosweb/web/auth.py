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
from collections.abc import Mapping
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from rosweb.core.policy import KINDS, ROLES, Caller, Policy
from rosweb.errors import ConfigError

#: the web side's name for a caller
Principal = Caller

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

_USER_KEYS = {"role", "password", "tokens"}


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def new_token() -> str:
    """A new API token (shown once; only its hash is stored)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


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
