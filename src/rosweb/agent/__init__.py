"""The node in its own process: serves a Graph and the robot's control to any number of web
workers (``rosweb agent``; the workers' side is :mod:`rosweb.graph.remote` and
:mod:`rosweb.control.remote`).

- :class:`Agent`: ``rosweb agent``'s core.
- :class:`RpcServer`: the generic RPC underneath (named objects, method allow-lists, ZeroMQ,
  CBOR).

This package never imports Flask or the web side.
"""

from rosweb.agent.agent import Agent
from rosweb.agent.server import RpcServer, current_peer

__all__ = ["Agent", "RpcServer", "current_peer"]
