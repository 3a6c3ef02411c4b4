"""rmw_zenoh's names on the wire, as pure functions (no I/O): key expressions, liveliness tokens,
the compact QoS string, and the attachment of every publication, request and reply.

From rmw_zenoh's ``docs/design.md``:

- data: ``<domain>/<fully qualified name>/<dds type name>/<type hash>``, e.g.
  ``0/chatter/std_msgs::msg::dds_::String_/RIHS01_df66...``
- node token: ``@ros2_lv/<domain>/<zid>/<node id>/<node id>/NN/<enclave>/<namespace>/<node>``
- entity token: ``@ros2_lv/<domain>/<zid>/<node id>/<entity id>/<MP|MS|SS|SC>/<enclave>/
  <namespace>/<node>/<mangled name>/<dds type name>/<type hash>/<qos>``; a mangled name has every
  ``/`` replaced by ``%``, and an empty namespace or enclave is ``%``.
- attachment: int64 sequence number, int64 source timestamp (ns since the UNIX epoch), one byte
  of GID length (16) and the GID, little-endian.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

__all__ = [
    "ADMIN_SPACE",
    "KINDS",
    "Attachment",
    "Entity",
    "Qos",
    "data_key",
    "demangle",
    "entity_token",
    "mangle",
    "new_gid",
    "node_token",
    "parse_token",
]

ADMIN_SPACE = "@ros2_lv"
NODE, PUBLISHER, SUBSCRIPTION, SERVICE, CLIENT = "NN", "MP", "MS", "SS", "SC"
KINDS = frozenset({NODE, PUBLISHER, SUBSCRIPTION, SERVICE, CLIENT})
GID_SIZE = 16
_ATTACHMENT = struct.Struct("<qqB")


def mangle(name: str) -> str:
    """``/robot1/chatter`` -> ``%robot1%chatter``; the root namespace ``/`` (or empty) is ``%``."""
    return name.replace("/", "%") or "%"


def demangle(mangled: str) -> str:
    return mangled.replace("%", "/")


def data_key(domain: int, name: str, dds_type: str, type_hash: str) -> str:
    """The key expression of a topic's data or a service's queries."""
    return f"{domain}/{name.strip('/')}/{dds_type}/{type_hash}"


@dataclass(frozen=True, slots=True)
class Qos:
    """The QoS rmw_zenoh puts in a token: reliability, durability, history depth (0: keep all)."""

    reliable: bool = True
    transient_local: bool = False
    depth: int = 10

    def encode(self) -> str:
        """``<reliability>:<durability>:<history>,<depth>:<deadline>:<lifespan>:<liveliness>``,
        defaults left empty (reliable, volatile, keep last), as rmw_zenoh writes it."""
        reliability = "" if self.reliable else "2"
        durability = "1" if self.transient_local else ""
        history = f",{self.depth}" if self.depth > 0 else "2,"
        return f"{reliability}:{durability}:{history}:,:,:,,"

    @classmethod
    def decode(cls, text: str) -> Qos:
        """Leniently: empty or unknown parts are the defaults."""
        parts = text.split(":")
        reliable = parts[0] != "2" if parts else True
        transient_local = len(parts) > 1 and parts[1] == "1"
        depth = 10
        if len(parts) > 2:
            kind, _, number = parts[2].partition(",")
            if kind == "2":
                depth = 0
            elif number.isdigit():
                depth = int(number)
        return cls(reliable, transient_local, depth)


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity of the ROS 2 graph, as its liveliness token describes it."""

    domain: int
    zid: str
    node_id: str
    entity_id: str
    kind: str
    namespace: str
    node: str
    name: str = ""
    dds_type: str = ""
    type_hash: str = ""
    qos: Qos = Qos()

    @property
    def node_fqn(self) -> str:
        """The node's fully qualified name: ``/ns/node``."""
        return f"{self.namespace.rstrip('/')}/{self.node}"


def node_token(domain: int, zid: str, node_id: int, namespace: str, node: str) -> str:
    return f"{ADMIN_SPACE}/{domain}/{zid}/{node_id}/{node_id}/{NODE}/%/{mangle(namespace)}/{node}"


def entity_token(
    domain: int,
    zid: str,
    node_id: int,
    entity_id: int,
    kind: str,
    namespace: str,
    node: str,
    name: str,
    dds_type: str,
    type_hash: str,
    qos: Qos,
) -> str:
    return (
        f"{ADMIN_SPACE}/{domain}/{zid}/{node_id}/{entity_id}/{kind}/%/{mangle(namespace)}/{node}/"
        f"{mangle(name)}/{dds_type}/{type_hash}/{qos.encode()}"
    )


def parse_token(key: str) -> Entity | None:
    """The entity of a liveliness token, or None for a key that is not one (other admin keys,
    tokens of other formats)."""
    parts = key.split("/")
    if len(parts) < 9 or parts[0] != ADMIN_SPACE or parts[5] not in KINDS:
        return None
    if not parts[1].isdigit():
        return None
    namespace = demangle(parts[7]) if parts[7] != "%" else "/"
    if parts[5] == NODE:
        if len(parts) != 9:
            return None
        return Entity(int(parts[1]), parts[2], parts[3], parts[4], NODE, namespace, parts[8])
    if len(parts) != 13:
        return None
    return Entity(
        int(parts[1]), parts[2], parts[3], parts[4], parts[5], namespace, parts[8],
        "/" + demangle(parts[9]).strip("/"), parts[10], parts[11], Qos.decode(parts[12]),
    )  # fmt: skip


def new_gid() -> bytes:
    """A random 16-byte GID (rmw_zenoh makes its GIDs random too)."""
    return os.urandom(GID_SIZE)


@dataclass(frozen=True, slots=True)
class Attachment:
    sequence: int
    timestamp_ns: int
    gid: bytes

    def encode(self) -> bytes:
        return _ATTACHMENT.pack(self.sequence, self.timestamp_ns, len(self.gid)) + self.gid

    @classmethod
    def decode(cls, data: bytes) -> Attachment | None:
        """The attachment, or None when ``data`` is not one (a peer that sends none)."""
        if len(data) < _ATTACHMENT.size:
            return None
        sequence, timestamp, size = _ATTACHMENT.unpack_from(data)
        gid = data[_ATTACHMENT.size : _ATTACHMENT.size + size]
        if len(gid) != size:
            return None
        return cls(sequence, timestamp, gid)
