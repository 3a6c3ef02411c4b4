"""The Python client of a running rosweb server: REST for requests, the rosbridge WebSocket for
streams, the same JSON form as the server (:mod:`rosweb.messages`), the errors of
:mod:`rosweb.errors`.

- :class:`Client`: synchronous; :class:`AsyncClient`: its asyncio twin.
- :class:`Subscription` / :class:`AsyncSubscription`: a topic's messages, reconnecting by
  themselves.
- :class:`Params` / :class:`AsyncParams`: the robot's parameters.

The classes are imported on first use, so that ``rosweb.client.cli`` stays cheap to import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rosweb.client.aio import AsyncClient, AsyncParams, AsyncSubscription
    from rosweb.client.sync import Client, Params, Subscription

__all__ = [
    "AsyncClient",
    "AsyncParams",
    "AsyncSubscription",
    "Client",
    "Params",
    "Subscription",
]

_WHERE = {
    "AsyncClient": "rosweb.client.aio",
    "AsyncParams": "rosweb.client.aio",
    "AsyncSubscription": "rosweb.client.aio",
    "Client": "rosweb.client.sync",
    "Params": "rosweb.client.sync",
    "Subscription": "rosweb.client.sync",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'rosweb.client' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
