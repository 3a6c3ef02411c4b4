"""Opening a rosbridge session for a connection: who it is, what it may do (both transports)."""

from __future__ import annotations

from collections.abc import Callable

from rosweb.core import GuardedRobot
from rosweb.core.bridge import BridgeSession
from rosweb.core.bridge.frames import Frame
from rosweb.errors import AuthError
from rosweb.web.state import RosWebState

__all__ = ["open_session"]


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

    allowance = gate.allowance("ws")  # this connection's own: refusing costs next to nothing

    def rate_limit(op: str) -> bool | str:
        return True if allowance is None or allowance.take() else allowance.text

    def rate_exhausted() -> str | None:
        return None if allowance is None or allowance.available() else allowance.text

    session = BridgeSession(
        robot, wake=wake, executor=state.executor, login=identify, rate_limit=rate_limit,
        rate_exhausted=rate_exhausted,
        options=state.bridge_options, framing=framing,
    )  # fmt: skip
    return session
