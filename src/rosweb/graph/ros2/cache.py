"""The graph cache: every ROS 2 entity of the domain, from liveliness tokens.

As rmw_zenoh does: one liveliness subscriber on ``@ros2_lv/<domain>/**`` with history (the
tokens alive when it is declared come first), a put adds an entity, a delete removes it (Zenoh
deletes every token of a session that goes away). Introspection reads this cache; nothing asks
the network at call time. Bounded: at most ``MAX_ENTITIES`` tokens are kept (a graph bigger than
that is logged once and the extra tokens ignored).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from rosweb.graph.ros2 import keys
from rosweb.graph.ros2.keys import Entity
from rosweb.messages.ros2 import ros2_type_name

__all__ = ["MAX_ENTITIES", "GraphCache"]

log = logging.getLogger(__name__)

MAX_ENTITIES = 100_000


class GraphCache:
    def __init__(self, domain: int) -> None:
        self.domain = domain
        self._entities: dict[str, Entity] = {}
        self._changed = threading.Condition()
        self._full_logged = False
        self.ignored = 0

    def update(self, key: str, alive: bool) -> None:
        """A liveliness put (``alive``) or delete of ``key``."""
        entity = keys.parse_token(key)
        if entity is None or entity.domain != self.domain:
            self.ignored += entity is None
            return
        with self._changed:
            if alive:
                if len(self._entities) >= MAX_ENTITIES and key not in self._entities:
                    if not self._full_logged:
                        log.warning("ros2:// graph cache full (%d tokens)", MAX_ENTITIES)
                        self._full_logged = True
                    return
                self._entities[key] = entity
            else:
                self._entities.pop(key, None)
            self._changed.notify_all()

    def wait(self, predicate: object, timeout: float) -> bool:
        """Wait until ``predicate()`` holds (re-checked on every change), at most ``timeout`` s."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)  # type: ignore[arg-type]

    def entities(self, kinds: Iterable[str] | None = None) -> list[Entity]:
        wanted = set(kinds) if kinds is not None else None
        with self._changed:
            return [e for e in self._entities.values() if wanted is None or e.kind in wanted]

    def _names(self, kinds: tuple[str, ...]) -> dict[str, str]:
        result: dict[str, str] = {}
        for entity in sorted(self.entities(kinds), key=lambda e: (e.name, e.kind)):
            result.setdefault(entity.name, ros2_type_name(entity.dds_type))
        return dict(sorted(result.items()))

    def topics(self) -> dict[str, str]:
        """Topic -> type of every publisher and subscription (the first type seen, when a topic
        has two)."""
        return self._names((keys.PUBLISHER, keys.SUBSCRIPTION))

    def services(self) -> dict[str, str]:
        return self._names((keys.SERVICE,))

    def nodes(self) -> list[str]:
        return sorted({e.node_fqn for e in self.entities()})

    def publishers(self, topic: str) -> list[Entity]:
        return [e for e in self.entities((keys.PUBLISHER,)) if e.name == topic]

    def server(self, service: str) -> Entity | None:
        """One server of ``service``, or None."""
        servers = [e for e in self.entities((keys.SERVICE,)) if e.name == service]
        return servers[0] if servers else None

    def counts(self) -> dict[str, int]:
        result = dict.fromkeys(sorted(keys.KINDS), 0)
        for entity in self.entities():
            result[entity.kind] += 1
        return result
