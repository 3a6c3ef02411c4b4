"""The agent: the one middleware node, served to any number of web workers.

``rosweb agent --backend ros1:// --listen ipc:///run/rosweb/agent.sock`` runs one; workers use
``ROSWEB_BACKEND=agent://ipc:///run/rosweb/agent.sock``. Besides the graph, the agent serves the
robot's control (the lease, the deadman, the e-stop: one for every worker) as the object
``control`` with the methods of :data:`~rosweb.control.port.CONTROL_METHODS`; workers reach it
through :class:`~rosweb.control.remote.RemoteControl`. :meth:`Agent.serve` adds more objects.
The camera inputs and compressed siblings of the settings run in the agent too
(:mod:`rosweb.agent.video`): once for all the workers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rosweb.agent.server import RpcServer
from rosweb.agent.service import GRAPH_METHODS, INLINE_METHODS, GraphService
from rosweb.agent.video import AgentVideo, start_video
from rosweb.control.core import Control
from rosweb.control.port import CONTROL_METHODS
from rosweb.errors import ConfigError
from rosweb.graph import Graph, connect
from rosweb.hub import switch

__all__ = ["SWITCH_INTERVAL", "Agent", "serve_forever", "tune_process"]

log = logging.getLogger(__name__)


class Agent:
    """Serves ``graph`` and its control on ``address`` until closed."""

    def __init__(
        self, graph: Graph, address: str, *, settings: Mapping[str, Any] | None = None
    ) -> None:
        self.graph = graph
        # a restarted agent takes over a robot that may still move: Control publishes a stop
        # on every command topic as it starts
        self.control = Control.from_settings(graph, settings or {})
        self.video: AgentVideo | None = None
        try:
            # the camera inputs and compressed siblings of the settings run here, once for all
            # workers; before the socket exists, so a source that cannot be opened stops the
            # agent (ConfigError) before any worker starts
            self.video = start_video(graph, self.control, settings or {})
            self.server = RpcServer(address)
        except BaseException:
            if self.video is not None:
                self.video.close()
            self.control.close()
            raise
        self.address = self.server.address
        self.graph_service = GraphService(graph, self.server)
        inline = () if graph.may_block else INLINE_METHODS  # never a master on the I/O thread
        self.server.serve("graph", self.graph_service, GRAPH_METHODS, inline)
        if self.video is not None:
            self.graph_service.extra_health["video"] = self.video.health
        self._served: list[object] = []
        self.serve("control", self.control, CONTROL_METHODS)

    @classmethod
    def from_url(
        cls, backend: str, address: str, *, settings: Mapping[str, Any] | None = None
    ) -> Agent:
        """Connect the backend ``backend`` (never ``agent://``) and serve it on ``address``."""
        if backend.startswith("agent:"):
            raise ConfigError("the agent's backend cannot be another agent (agent://)")
        graph = connect(backend)
        try:
            return cls(graph, address, settings=settings)
        except BaseException:
            graph.close()
            raise

    def serve(self, name: str, obj: object, methods: Iterable[str]) -> None:
        """Serve ``obj`` to workers as ``name``; they may call exactly ``methods``.

        A worker calls it with ``AgentGraph.link.call(name, method, ...)``. If ``obj`` has
        ``peer_gone(peer)``, it learns when a worker leaves (``rosweb.agent.current_peer()``
        tells a method which worker calls it); its ``close()`` runs when the agent closes.
        """
        self.server.serve(name, obj, methods)
        self._served.append(obj)

    def start(self) -> Agent:
        self.server.start()
        log.info("agent: serving %s at %s", self.graph.url, self.address)
        return self

    def close(self) -> None:
        """Stop serving, drop every worker's state, close the backend."""
        self.server.close()
        if self.video is not None:
            self.video.close()
        for obj in self._served:
            close = getattr(obj, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    log.exception("agent: closing %r failed", obj)
        self.graph_service.close()
        self.graph.close()

    def __enter__(self) -> Agent:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


#: the GIL switch interval of an agent process (Python's default is 5 ms). A thread publishing
#: in the agent (a camera input, the simulator, rospy's receive threads) keeps the GIL until the
#: interval forces it out, and the I/O thread that sends to the workers waits that long each
#: time it let the GIL go (at every ZeroMQ send): at 5 ms it sent at most ~200k items a second and
#: dropped the rest of a flood; at 1 ms it keeps up (bench_agent, bench/README.md)
SWITCH_INTERVAL = 0.001


def tune_process() -> None:
    """What an agent's own process sets (``rosweb agent``, the agent of ``--workers``): its
    GIL :data:`SWITCH_INTERVAL`. An agent started inside another program leaves it as it is."""
    switch.tune_process(SWITCH_INTERVAL)


def serve_forever(
    settings: Mapping[str, Any], address: str, *, on_ready: Callable[[Agent], None] | None = None
) -> None:
    """Run an agent for ``settings["ROSWEB_BACKEND"]`` on ``address`` until SIGINT or SIGTERM."""
    import signal
    import threading

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.set())
    tune_process()
    agent = Agent.from_url(settings["ROSWEB_BACKEND"], address, settings=settings)
    try:
        agent.start()
        if on_ready is not None:
            on_ready(agent)
        while not stop.wait(1.0):
            pass
    finally:
        agent.close()
