"""The rosbridge v2 protocol's web side: opening a session for a connection (:mod:`open`) and
the Flask transport (flask-sock); the socket-free core is :mod:`rosweb.core.bridge`, the Tornado
transport :mod:`rosweb.server.bridge`."""

from rosweb.web.bridge.open import open_session

__all__ = ["open_session"]
