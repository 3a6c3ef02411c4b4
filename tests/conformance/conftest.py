"""The Graph conformance suite runs on every backend listed here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rosweb.graph import Graph, connect

#: backend URLs the suite runs against; each new backend adds itself here
BACKENDS = ["sim://?robot=0", "sim://", "ros1://"]


@pytest.fixture(params=BACKENDS)
def graph(request: pytest.FixtureRequest) -> Iterator[Graph]:
    if request.param.startswith("ros1:"):
        request.getfixturevalue("ros_master")
    graph = connect(request.param)
    yield graph
    graph.close()
