"""The node in its own process: serves a Graph (and shared state) to any number of web workers.

- :class:`Agent`: ``rosweb agent``'s core; :data:`SHARED_STATE` lists the extra objects it serves.
- :class:`AgentGraph`: the ``agent://`` backend, a Graph that talks to an agent.
- :class:`RpcServer` / :class:`RpcClient` / :class:`Proxy`: the generic RPC underneath (named
  objects, method allow-lists, ZeroMQ, CBOR).

This package never imports Flask or the web side.
"""

from rosweb.agent.agent import SHARED_STATE, Agent, SharedStateFactory
from rosweb.agent.graph import AgentGraph, parse_url
from rosweb.agent.rpc import Proxy, RpcClient, RpcServer, current_peer

__all__ = [
    "SHARED_STATE",
    "Agent",
    "AgentGraph",
    "Proxy",
    "RpcClient",
    "RpcServer",
    "SharedStateFactory",
    "current_peer",
    "parse_url",
]
