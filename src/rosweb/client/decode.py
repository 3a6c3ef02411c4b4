"""Messages from the server's JSON into rosweb's Python form, by :func:`rosweb.messages.from_json`.

The JSON form has ``uint8[]`` / ``char[]`` fields as base64 text and NaN/inf as ``null``. The
client gives back what rosweb holds inside: ``bytes`` and ``float('nan')``, every field present.
Types come from a :class:`~rosweb.messages.TypeStore` (the ROS 1 set, no ROS needed); a type the
store does not know is learnt once from the server's schema (``GET /api/types/<type>``: its full
definition text).
"""

from __future__ import annotations

import threading
from typing import Any

from rosweb.errors import MessageError
from rosweb.messages import Message, TypeStore, from_json

__all__ = ["Decoder"]


class Decoder:
    """A type store built on first use, and the conversion (``enabled=False``: JSON as sent)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._store: TypeStore | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> TypeStore:
        with self._lock:
            if self._store is None:
                self._store = TypeStore()
            return self._store

    def knows(self, type_name: str) -> bool:
        """Whether ``type_name`` (message, or service) can be decoded without asking the server."""
        store = self.store
        return store.has_message(type_name) or store.has_service(type_name)

    def learn(self, type_name: str, doc: dict[str, Any]) -> None:
        """Register a type from the server's schema document of it."""
        try:
            if doc.get("kind") == "service":
                self.store.register_srv_full_text(
                    type_name, doc["request"]["definition"], doc["response"]["definition"]
                )
            else:
                self.store.register_full_text(type_name, doc["definition"])
        except (KeyError, TypeError) as err:
            raise MessageError(f"the server's schema of {type_name} is incomplete: {err}") from err

    def message(self, type_name: str, value: Any) -> Message | Any:
        """``value`` (the JSON of a ``type_name`` message) in rosweb's Python form."""
        if not self.enabled:
            return value
        return from_json(self.store, type_name, value)

    def response(self, service_type: str, value: Any) -> Message | Any:
        """A service response in rosweb's Python form."""
        if not self.enabled:
            return value
        return from_json(self.store, self.store.service(service_type).response, value)
