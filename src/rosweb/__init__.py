"""rosweb: put a robot on the web.

A Flask app and Flask extension with a robot node inside. The robot side (``messages``,
``graph``, ``hub``, ``control``) knows nothing of HTTP; the web side (``web``) gets a
:class:`~rosweb.graph.Graph` from configuration. ``from rosweb import Client`` (or
``AsyncClient``) talks to a running server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rosweb.version import __version__

__all__ = ["AsyncClient", "Client", "__version__"]

if TYPE_CHECKING:
    from rosweb.client import AsyncClient, Client


def __getattr__(name: str) -> Any:
    """``from rosweb import Client`` imports the client (httpx, websockets) only when asked."""
    if name in ("Client", "AsyncClient"):
        from rosweb import client

        return getattr(client, name)
    raise AttributeError(f"module 'rosweb' has no attribute {name!r}")
