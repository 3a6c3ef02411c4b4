"""``agent://``: the backend whose node runs in an agent process, reached over ZeroMQ.

- :class:`AgentGraph`: the Graph; its :attr:`~AgentGraph.link` reaches the agent's other served
  objects (the control: :class:`rosweb.control.remote.RemoteControl`).
- :class:`RpcClient` / :class:`Proxy`: the client side of the agent's RPC (the server side is
  :mod:`rosweb.agent.server`).
"""

from rosweb.graph.remote.client import Proxy, RpcClient
from rosweb.graph.remote.graph import AgentGraph, parse_url

__all__ = ["AgentGraph", "Proxy", "RpcClient", "parse_url"]
