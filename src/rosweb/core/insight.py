"""What the dashboard asks about the robot beyond its messages, as one caller may see it:
per-topic rates and bandwidth (counted by the hub, :mod:`rosweb.hub.stats`) and who publishes,
subscribes and provides what (the backend's :meth:`~rosweb.graph.Graph.connections`).

:class:`~rosweb.core.guard.GuardedRobot` answers ``topic_stats`` and ``topic_graph`` from here;
REST (:mod:`rosweb.web.api_stats`) and rosbridge (``/rosapi/topic_stats``) ask it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rosweb.graph import Graph, normalize_name
from rosweb.hub import Hub

__all__ = ["topic_graph", "topic_stats"]

Visible = Callable[[str, str], bool]


def topic_stats(
    hub: Hub, topics: dict[str, str], visible: Visible, names: list[str] | None = None
) -> dict[str, Any]:
    """Rates and bandwidth of the visible ``topics`` (or those ``names``): every topic of the
    graph, ``subscribed`` false (and no figures) for one the hub does not receive."""
    counted = hub.stats.snapshot()
    feeds = hub.feeds()
    wanted = topics if names is None else [normalize_name(n) for n in names]
    rows = []
    for name in wanted:
        if name not in topics and name not in counted:
            continue
        if not visible("topic", name):
            continue
        figures = counted.get(name)
        row: dict[str, Any] = {"name": name, "type": topics.get(name) or (figures or {}).get(
            "type", ""), "subscribed": name in feeds}  # fmt: skip
        if figures is None:
            row.update(rate=None, bandwidth=None, count=0, bytes=0, size=None, last=None)
        else:
            row.update({k: v for k, v in figures.items() if k != "type"})
            if not row["subscribed"]:  # received earlier, not now: no rate to tell (idle)
                row.update(rate=None, bandwidth=None)
        rows.append(row)
    return {"window": hub.stats.window, "topics": rows}


def topic_graph(
    graph: Graph, nodes: list[str], topics: dict[str, str], services: dict[str, str]
) -> dict[str, Any]:
    """Nodes, and per visible topic and service the nodes behind it; ``available`` is false
    when the backend cannot tell (then only names and types)."""
    connections = graph.connections()
    pubs = connections.publishers if connections else {}
    subs = connections.subscribers if connections else {}
    providers = connections.providers if connections else {}
    return {
        "available": connections is not None,
        "nodes": nodes,
        "topics": [
            {"name": name, "type": type_name, "publishers": pubs.get(name, []),
             "subscribers": subs.get(name, [])}
            for name, type_name in topics.items()
        ],
        "services": [
            {"name": name, "type": type_name, "providers": providers.get(name, [])}
            for name, type_name in services.items()
        ],
    }  # fmt: skip
