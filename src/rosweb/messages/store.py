"""The type store: ROS message and service types as plain typed data.

Types come from rosbags' typestores (no ROS install needed) plus message and service definitions
registered from their ``.msg`` / ``.srv`` text. A store has one flavour, its ``distro``:

- ``noetic`` (the default, ROS 1): names are public in their ROS 1 form (``geometry_msgs/Twist``;
  ``pkg/msg/Name`` is accepted too); times and durations are the primitives ``time`` and
  ``duration`` (``{secs, nsecs}``).
- a ROS 2 distro (``humble``, ``iron``, ``jazzy``, ``kilted``): names are ``pkg/msg/Name`` and
  ``pkg/srv/Name`` (``pkg/Name`` is accepted too); ``builtin_interfaces/msg/Time`` is a message
  like any other (``{sec, nanosec}``); ``byte`` and ``char`` are unsigned 8-bit, as rosidl maps
  them, so ``byte[]`` is binary like ``uint8[]``. :meth:`TypeStore.type_hash` gives RIHS01 hashes.

A store is an explicit object, never a global registry: each backend owns one.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.base import Nodetype  # type: ignore[attr-defined]

from rosweb.errors import MessageError, UnknownTypeError
from rosweb.messages.ros2 import SERVICES as ROS2_SERVICES
from rosweb.messages.ros2 import rihs01

__all__ = ["DISTROS", "PRIMITIVES", "Constant", "Field", "ServiceType", "TypeStore"]

#: ROS 1 primitive type names and the Python type of their JSON value.
PRIMITIVES: frozenset[str] = frozenset(
    {
        "bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
        "float32", "float64", "string", "time", "duration", "char", "byte",
    }
)  # fmt: skip

_SECTION = re.compile(r"^={80}\nMSG: (\S+)\n", re.MULTILINE)
_TIME_TYPES = {"builtin_interfaces/msg/Time": "time", "builtin_interfaces/msg/Duration": "duration"}
_PLACEHOLDER = "structure_needs_at_least_one_member"

#: message types the ROS 1 Noetic set of rosbags lacks, that the UI reads (TF)
_EXTRA_MSGS = {"tf2_msgs/TFMessage": "geometry_msgs/TransformStamped[] transforms\n"}

_STD_SRVS = {
    "std_srvs/Empty": "---\n",
    "std_srvs/Trigger": "---\nbool success\nstring message\n",
    "std_srvs/SetBool": "bool data\n---\nbool success\nstring message\n",
}

#: distro name -> rosbags store; ``noetic`` is ROS 1, the others ROS 2
DISTROS: dict[str, Stores] = {
    "noetic": Stores.ROS1_NOETIC,
    "humble": Stores.ROS2_HUMBLE,
    "iron": Stores.ROS2_IRON,
    "jazzy": Stores.ROS2_JAZZY,
    "kilted": Stores.ROS2_KILTED,
}


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a message type.

    ``type`` is the element type: a primitive name or a message type (public name).
    ``array_length`` is ``None`` for a scalar, ``0`` for a variable-length array, N for ``T[N]``.
    """

    name: str
    type: str
    array_length: int | None = None

    @property
    def is_array(self) -> bool:
        return self.array_length is not None

    @property
    def is_builtin(self) -> bool:
        return self.type in PRIMITIVES

    @property
    def type_text(self) -> str:
        """The type as written in a ``.msg`` file: ``float64[36]``, ``uint8[]``, ``Header``."""
        if self.array_length is None:
            return self.type
        return f"{self.type}[{self.array_length or ''}]"


@dataclass(frozen=True, slots=True)
class Constant:
    name: str
    type: str
    value: int | float | str | bool


@dataclass(frozen=True, slots=True)
class ServiceType:
    name: str
    request: str
    response: str
    md5sum: str


def public_name(name: str) -> str:
    """``pkg/msg/Name`` -> ``pkg/Name``; ROS 1 names pass unchanged."""
    parts = name.strip("/").split("/")
    if len(parts) == 3 and parts[1] in ("msg", "srv"):
        return f"{parts[0]}/{parts[2]}"
    return name.strip("/")


def _internal_name(name: str) -> str:
    parts = name.strip("/").split("/")
    if len(parts) == 2:
        return f"{parts[0]}/msg/{parts[1]}"
    return name.strip("/")


def _srv_name(name: str) -> str:
    """``pkg/Name`` or ``pkg/srv/Name`` -> ``pkg/srv/Name`` (the ROS 2 form of a service)."""
    parts = name.strip("/").split("/")
    if len(parts) == 2:
        return f"{parts[0]}/srv/{parts[1]}"
    return name.strip("/")


class TypeStore:
    """Message and service types, with fields, constants, definitions and md5sums."""

    def __init__(self, *, distro: str = "noetic") -> None:
        if distro not in DISTROS:
            raise MessageError(f"unknown distro {distro!r}: expected one of {', '.join(DISTROS)}")
        #: ``noetic`` (ROS 1) or a ROS 2 distro
        self.distro = distro
        #: whether this store holds a ROS 2 type set
        self.ros2 = distro != "noetic"
        self._ts = get_typestore(DISTROS[distro])
        self._services: dict[str, ServiceType] = {}
        self._fields: dict[str, tuple[Field, ...]] = {}
        self._hashes: dict[str, str] = {}
        self._lock = threading.Lock()
        if self.ros2:
            for name, text in ROS2_SERVICES.items():
                self.register_srv(name, text)
        else:
            for name, text in _STD_SRVS.items():
                self.register_srv(name, text)
            for name, text in _EXTRA_MSGS.items():  # ROS 1 types the Noetic set lacks
                self.register_msg(name, text)

    # -- names ----------------------------------------------------------------------------------

    def public(self, name: str) -> str:
        """A message type's public name in this store's flavour (``pkg/Name`` in ROS 1,
        ``pkg/msg/Name`` in ROS 2), whatever form it was given in."""
        return _internal_name(name) if self.ros2 else public_name(name)

    def canonical(self, name: str) -> str:
        """The public name of a message or service type given in any accepted form: what
        comparisons between type names (a topic's type against a publisher's) must use."""
        if self.ros2 and not self.has_message(name) and _srv_name(name) in self._services:
            return _srv_name(name)
        return self.public(name)

    # -- registration -------------------------------------------------------------------------

    def register_msg(self, name: str, text: str) -> None:
        """Register a message type from its ``.msg`` definition text."""
        self._register({name: text})

    def register_full_text(self, name: str, full_text: str) -> None:
        """Register a type from its full definition, with its dependencies after ``MSG:`` lines.

        That is the form of rospy's ``_full_text`` and of a bag's connection header. Types the
        store already knows are left as they are.
        """
        sections = _SECTION.split(full_text)
        texts = {name: sections[0]}
        texts.update(zip(sections[1::2], sections[2::2], strict=True))
        self._register({n: t for n, t in texts.items() if not self.has_message(n)})

    def _register(self, texts: dict[str, str]) -> None:
        name = ", ".join(texts)
        try:
            types: dict[str, Any] = {}
            for type_name, text in texts.items():
                _check_msg_text(text)
                types.update(get_types_from_msg(text, _internal_name(type_name)))
            for fields in (defs[1] for defs in types.values()):
                for field_name, desc in fields:
                    used = _field(field_name, desc).type
                    if used not in PRIMITIVES and not (
                        self.has_message(used) or _internal_name(used) in types
                    ):
                        raise MessageError(f"field {field_name}: unknown type {used}")
            with self._lock:
                self._ts.register(types)
        except Exception as err:  # rosbags raises several unrelated error types here
            raise MessageError(f"cannot register {name}: {err}") from err

    def register_srv(self, name: str, text: str) -> None:
        """Register a service type from its ``.srv`` text (request ``---`` response)."""
        name = _srv_name(name) if self.ros2 else public_name(name)
        request_text, sep, response_text = text.partition("\n---")
        if not sep:
            if not text.startswith("---"):
                raise MessageError(f"service definition of {name} has no '---' separator")
            request_text, response_text = "", text[3:]
        if self.ros2:  # pkg/srv/Name_Request, as rosidl names them
            self._register_ros2_srv(name, request_text, response_text.lstrip("-"))
            return
        self.register_msg(f"{name}Request", request_text)
        self.register_msg(f"{name}Response", response_text.lstrip("-"))
        self._add_service(name)

    def _register_ros2_srv(self, name: str, request_text: str, response_text: str) -> None:
        package = name.split("/")[0]
        types: dict[str, Any] = {}
        for part, text in (("Request", request_text), ("Response", response_text)):
            try:
                _check_msg_text(text)
                # parsed as a message of the package (relative names resolve there), then renamed
                parsed = get_types_from_msg(text, f"{package}/msg/{name.split('/')[-1]}_{part}")
            except Exception as err:
                raise MessageError(f"cannot register {name}: {err}") from err
            consts, fields = next(iter(parsed.values()))
            # rosidl gives an empty structure one uint8 member, and it is on the wire (CDR)
            types[f"{name}_{part}"] = (
                consts,
                fields or [(_PLACEHOLDER, (Nodetype.BASE, ("uint8", 0)))],
            )
        with self._lock:
            self._ts.register(types)
        self._services[name] = ServiceType(
            name, f"{name}_Request", f"{name}_Response", self._ros2_srv_md5(name)
        )

    def _ros2_srv_md5(self, name: str) -> str:
        text = self._md5_text(f"{name}_Request") + self._md5_text(f"{name}_Response")
        return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()

    def register_srv_full_text(self, name: str, request_full: str, response_full: str) -> None:
        """Register a service from the full texts of its request and response (rospy's)."""
        if self.ros2:
            raise MessageError(
                "full-text service definitions are ROS 1's (rospy): use register_srv"
            )
        name = public_name(name)
        self.register_full_text(f"{name}Request", request_full)
        self.register_full_text(f"{name}Response", response_full)
        self._add_service(name)

    def _add_service(self, name: str) -> None:
        md5 = hashlib.md5(
            (self._md5_text(f"{name}Request") + self._md5_text(f"{name}Response")).encode(),
            usedforsecurity=False,
        ).hexdigest()
        self._services[name] = ServiceType(name, f"{name}Request", f"{name}Response", md5)

    # -- lookup ---------------------------------------------------------------------------------

    def message_types(self) -> list[str]:
        if self.ros2:
            return sorted(self._ts.fielddefs)
        return sorted(public_name(n) for n in self._ts.fielddefs if n not in _TIME_TYPES)

    def service_types(self) -> list[str]:
        return sorted(self._services)

    def has_message(self, name: str) -> bool:
        internal = _internal_name(name)
        return internal in self._ts.fielddefs and (self.ros2 or internal not in _TIME_TYPES)

    def has_service(self, name: str) -> bool:
        return self._service_key(name) in self._services

    def _service_key(self, name: str) -> str:
        return _srv_name(name) if self.ros2 else public_name(name)

    def service(self, name: str) -> ServiceType:
        try:
            return self._services[self._service_key(name)]
        except KeyError:
            raise UnknownTypeError(self._service_key(name)) from None

    def _defs(self, name: str) -> tuple[list[Any], list[Any]]:
        internal = _internal_name(name)
        if internal in _TIME_TYPES and not self.ros2:
            raise UnknownTypeError(public_name(name))
        try:
            defs: tuple[list[Any], list[Any]] = self._ts.fielddefs[internal]
        except KeyError:
            raise UnknownTypeError(self.public(name)) from None
        return defs

    def fielddefs(self, name: str) -> tuple[list[Any], list[Any]]:
        """rosbags' raw definition of a message type: ``(constants, fields)`` (for wire codecs)."""
        return self._defs(name)

    @property
    def rosbags(self) -> Any:
        """The rosbags typestore behind this store (its CDR serializers, its message classes)."""
        return self._ts

    def type_hash(self, name: str) -> str:
        """The RIHS01 type hash of a ROS 2 message or service type (REP-2016), as rosidl makes
        it; ``TypeHashNotSupported`` on Humble, which predates type hashes (as rmw_zenoh does)."""
        if not self.ros2:
            raise MessageError("type hashes are ROS 2's: this store holds ROS 1 types")
        if self.distro == "humble":
            return "TypeHashNotSupported"
        service = self.has_service(name)  # never under the lock: a store may learn types here
        key = self._service_key(name) if service else _internal_name(name)
        cached = self._hashes.get(key)
        if cached is None:
            if not service:
                self._defs(name)
            with self._lock:
                cached = self._hashes[key] = rihs01(self._ts, key, service=service)
        return cached

    def fields(self, name: str) -> tuple[Field, ...]:
        """The fields of a message type, in order (cached)."""
        cached = self._fields.get(name)
        if cached is not None:
            return cached
        result = tuple(
            _field(fname, desc, ros2=self.ros2)
            for fname, desc in self._defs(name)[1]
            if fname != _PLACEHOLDER
        )
        self._fields[name] = result
        return result

    def constants(self, name: str) -> tuple[Constant, ...]:
        return tuple(Constant(n, t, v) for n, t, v in self._defs(name)[0])

    def definition(self, name: str) -> str:
        """The full message definition text (as in a bag's connection header; ROS 2 style for
        a ROS 2 store)."""
        self._defs(name)
        version = 2 if self.ros2 else 1
        text: str = self._ts.generate_msgdef(_internal_name(name), ros_version=version)[0]
        return text

    def md5sum(self, name: str) -> str:
        """genmsg's md5sum (ROS 1); for ROS 2 types, the same digest of their definition (ROS 2
        has none of its own: :meth:`type_hash` is what it checks)."""
        if self.has_service(name):
            return self.service(name).md5sum
        self._defs(name)
        version = 2 if self.ros2 else 1
        md5: str = self._ts.generate_msgdef(_internal_name(name), ros_version=version)[1]
        return md5

    def dependencies(self, name: str) -> list[str]:
        """Every message type used by ``name``, depth first, each once."""
        seen: dict[str, None] = {}

        def walk(type_name: str) -> None:
            for f in self.fields(type_name):
                if not f.is_builtin and f.type not in seen:
                    seen[f.type] = None
                    walk(f.type)

        walk(name)
        return list(seen)

    def _md5_text(self, name: str) -> str:
        """genmsg's md5 text of a message: constants, then fields with nested types as md5s."""
        lines = [f"{c.type} {c.name}={c.value}" for c in self.constants(name)]
        for f in self.fields(name):
            if f.is_builtin:
                lines.append(f"{f.type_text} {f.name}")
            else:
                lines.append(f"{self.md5sum(f.type)} {f.name}")
        return "\n".join(lines).strip()


_CONSTANT_PARSERS: dict[str, Callable[[str], object]] = {
    **dict.fromkeys(("int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
                     "char", "byte"), int),
    "float32": float,
    "float64": float,
    "bool": lambda v: ("true", "false", "1", "0").index(v.lower()),
    "string": str,
}  # fmt: skip


def _check_msg_text(text: str) -> None:
    """What rosbags' parser lets through but genmsg refuses: extra tokens, bad constants."""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" in line.split("#")[0]:
            type_and_name, _, value = line.partition("=")
            parts = type_and_name.split()
            if len(parts) != 2 or parts[0] not in _CONSTANT_PARSERS:
                raise MessageError(f"line {number}: bad constant {line!r}")
            if parts[0] != "string":
                try:
                    _CONSTANT_PARSERS[parts[0]](value.split("#")[0].strip())
                except ValueError:
                    raise MessageError(
                        f"line {number}: constant {parts[1]} is not a {parts[0]}"
                    ) from None
        elif len(line.split("#")[0].split()) != 2:
            raise MessageError(f"line {number}: expected 'type name', got {line!r}")


def _element(desc: tuple[Any, Any], ros2: bool) -> str:
    kind, arg = desc
    if kind == Nodetype.BASE:
        base: str = arg[0]
        if ros2 and base in ("byte", "char"):  # rosidl: byte -> octet, char -> uint8
            return "uint8"
        return base
    if ros2:
        return str(arg)
    if arg in _TIME_TYPES:
        return _TIME_TYPES[arg]
    return public_name(arg)


def _field(name: str, desc: tuple[Any, Any], *, ros2: bool = False) -> Field:
    kind, arg = desc
    if kind in (Nodetype.ARRAY, Nodetype.SEQUENCE):
        sub, length = arg
        return Field(name, _element(sub, ros2), length if kind == Nodetype.ARRAY else 0)
    return Field(name, _element(desc, ros2))
