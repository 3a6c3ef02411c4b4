"""Opening a rosbridge session for a connection: who it is, what it may do (both transports)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rosweb.core import GuardedRobot
from rosweb.core.bridge import BridgeSession
from rosweb.core.bridge.frames import Frame
from rosweb.errors import AuthError
from rosweb.web.security import Allowance
from rosweb.web.state import RosWebState

__all__ = ["open_session", "rate_callbacks"]


def rate_callbacks(allowance: Allowance | None) -> dict[str, Callable[..., Any]]:
    """A session's ``rate_limit``, ``rate_exhausted`` and ``rate_wait`` on one connection's
    allowance (None: no limit)."""

    def rate_limit(op: str) -> bool | str:
        return True if allowance is None or allowance.take() else allowance.text

    def rate_exhausted() -> str | None:
        return None if allowance is None or allowance.available() else allowance.text

    def rate_wait() -> float:
        return 0.0 if allowance is None else allowance.wait()

    return {"rate_limit": rate_limit, "rate_exhausted": rate_exhausted, "rate_wait": rate_wait}


def open_session(
    state: RosWebState,
    *,
    wake: Callable[[], None],
    remote: str,
    host: str,
    authorization: str | None,
    token: str | None,
    cookie: str | None,
    client: str | None,
    framing: Callable[[Frame], bytes] | None = None,
) -> BridgeSession:
    """A session for a new WebSocket. Credentials (a bearer header, a ``token`` query parameter,
    the login cookie) make it authenticated at once; without them it waits for an ``auth`` op.
    Raises PermissionDenied for a connection the gate refuses outright (authentication off and
    not from this machine). ``framing``: the transport's wire form of a frame (see
    :class:`~rosweb.core.bridge.BridgeSession`)."""
    gate = state.gate

    def identify(token: str | None, authorization: str | None = None) -> GuardedRobot:
        principal = gate.identify(
            remote_addr=remote, host=host, authorization=authorization, token=token,
            cookie=cookie if token is None and authorization is None else None, client=client,
        )  # fmt: skip
        robot: GuardedRobot = state.bind(principal, remote, "ws")
        return robot

    try:
        robot: GuardedRobot | None = identify(token, authorization)
    except AuthError:
        if authorization or token:
            raise
        robot = None  # may still authenticate with an auth op

    session = BridgeSession(
        robot, wake=wake, executor=state.executor, login=identify,
        **rate_callbacks(gate.allowance("ws")),  # this connection's own: refusing costs nothing
        options=state.bridge_options, framing=framing,
    )  # fmt: skip
    return session
