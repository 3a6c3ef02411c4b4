"""The rosbridge v2 protocol as a pure core: frames in, frames out, no socket (the transports are
:mod:`rosweb.web.bridge` for Flask and :mod:`rosweb.server.bridge` for Tornado)."""

from rosweb.core.bridge.fields import BridgeOptions, OpError
from rosweb.core.bridge.session import OP_ROLES, OPS, RATE_LIMITED_OPS, BridgeSession

__all__ = ["OPS", "OP_ROLES", "RATE_LIMITED_OPS", "BridgeOptions", "BridgeSession", "OpError"]
