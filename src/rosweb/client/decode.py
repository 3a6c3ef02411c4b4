"""Messages from the server's JSON into rosweb's Python form, by :func:`rosweb.messages.from_json`.

The JSON form has ``uint8[]`` / ``char[]`` fields as base64 text and NaN/inf as ``null``. The
client gives back what rosweb holds inside: ``bytes`` and ``float('nan')``, every field present.
Types come from a :class:`~rosweb.messages.TypeStore` (no ROS needed): the ROS 1 set for names
such as ``nav_msgs/Odometry``, a ROS 2 set (Jazzy's) for the ``nav_msgs/msg/Odometry`` names a
ros2:// server gives, so times are ``{sec, nanosec}`` and there is no ``seq``. A type the store
does not know is learnt once from the server's schema (``GET /api/types/<type>``: its full
definition text).
"""

from __future__ import annotations

import threading
from typing import Any

from rosweb.errors import MessageError
from rosweb.messages import Message, TypeStore, from_json

__all__ = ["Decoder"]


class Decoder:
    """Type stores built on first use, and the conversion (``enabled=False``: JSON as sent)."""

    #: the ROS 2 type set of names in their ROS 2 form
    ROS2_DISTRO = "jazzy"

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._stores: dict[str, TypeStore] = {}
        self._lock = threading.Lock()

    @property
    def store(self) -> TypeStore:
        """The ROS 1 store."""
        return self._store("noetic")

    def store_of(self, type_name: str) -> TypeStore:
        """The store of ``type_name``'s flavour: ROS 2 for ``pkg/msg/Name`` and ``pkg/srv/Name``."""
        parts = type_name.split("/")
        ros2 = len(parts) == 3 and parts[1] in ("msg", "srv")
        return self._store(self.ROS2_DISTRO if ros2 else "noetic")

    def _store(self, distro: str) -> TypeStore:
        with self._lock:
            store = self._stores.get(distro)
            if store is None:
                store = self._stores[distro] = TypeStore(distro=distro)
            return store

    def knows(self, type_name: str) -> bool:
        """Whether ``type_name`` (message, or service) can be decoded without asking the server."""
        store = self.store_of(type_name)
        return store.has_message(type_name) or store.has_service(type_name)

    def learn(self, type_name: str, doc: dict[str, Any]) -> None:
        """Register a type from the server's schema document of it."""
        try:
            store = self.store_of(type_name)
            if doc.get("kind") == "service":
                store.register_srv_full_text(
                    type_name, doc["request"]["definition"], doc["response"]["definition"]
                )
            else:
                store.register_full_text(type_name, doc["definition"])
        except (KeyError, TypeError) as err:
            raise MessageError(f"the server's schema of {type_name} is incomplete: {err}") from err

    def message(self, type_name: str, value: Any) -> Message | Any:
        """``value`` (the JSON of a ``type_name`` message) in rosweb's Python form."""
        if not self.enabled:
            return value
        return from_json(self.store_of(type_name), type_name, value)

    def response(self, service_type: str, value: Any) -> Message | Any:
        """A service response in rosweb's Python form."""
        if not self.enabled:
            return value
        store = self.store_of(service_type)
        return from_json(store, store.service(service_type).response, value)
