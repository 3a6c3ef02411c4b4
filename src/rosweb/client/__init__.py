"""The Python client of a running rosweb server: REST for requests, the rosbridge WebSocket for
streams, the same JSON form as the server (:mod:`rosweb.messages`), the errors of
:mod:`rosweb.errors`.

- :class:`Client`: synchronous; :class:`AsyncClient`: its asyncio twin.
- :class:`Subscription` / :class:`AsyncSubscription`: a topic's messages, reconnecting by
  themselves.
- :class:`Params` / :class:`AsyncParams`: the robot's parameters.
"""

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
