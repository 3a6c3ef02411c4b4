"""The Graph conformance suite runs on every backend listed here."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from helpers import AgentProcess, free_port
from rosweb.graph import Graph, connect

#: backend URLs the suite runs against; each new backend adds itself here. ``agent+URL``: an
#: ``agent://`` graph in front of a real ``rosweb agent`` process serving URL.
BACKENDS = [
    "sim://?robot=0",
    "sim://",
    "ros1://",
    "agent+sim://?robot=0",
    "agent+ros1://?node=/rosweb_agent",
    "ros2://?router=embedded",  # its own Zenoh router on a free port
]


@pytest.fixture(scope="session")
def agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], AgentProcess]]:
    """One agent process per backend URL for the session, started on first use."""
    started: dict[str, AgentProcess] = {}

    def get(backend: str) -> AgentProcess:
        if backend not in started:
            directory = tmp_path_factory.mktemp("agent")
            started[backend] = AgentProcess(backend, directory).start()
        return started[backend]

    yield get
    for agent in started.values():
        agent.kill()


@pytest.fixture(params=BACKENDS)
def graph(request: pytest.FixtureRequest) -> Iterator[Graph]:
    url: str = request.param
    if "ros1:" in url:
        request.getfixturevalue("ros_master")
    if url.startswith("agent+"):
        url = request.getfixturevalue("agents")(url[len("agent+") :]).url
    if url.startswith("ros2://?"):
        url = f"ros2://127.0.0.1:{free_port()}?" + url.partition("?")[2]
    graph = connect(url)
    yield graph
    graph.close()
