"""The rosbridge v2 protocol: a socket-free core (:mod:`protocol`) and thin transports."""

from rosweb.web.bridge.protocol import OPS, BridgeOptions, BridgeSession

__all__ = ["OPS", "BridgeOptions", "BridgeSession"]
