"""The ROS 1 backend: rosweb as one rospy node on a real ROS graph.

``ros1://`` joins the master of ``ROS_MASTER_URI``; ``ros1://host:port`` names it. Options:
``?node=/rosweb`` (the node name), ``?anonymous=1`` (a unique suffix), ``?linger=10`` (seconds
an unused publisher stays registered).

- Message classes are imported by module (``geometry_msgs.msg``), no rospack or package.xml
  needed; their definitions are added to the type store from ``_full_text``.
- Publishers are shared per topic and reference-counted; one unused for ``linger`` seconds is
  unregistered, so a browser that reloads and publishes again reuses it (rospy's quick
  unregister/re-register breaks connections).
- Service calls run in the caller's thread with persistent proxies pooled per service, their
  timeouts kept by one watcher thread (:mod:`rosweb.graph.ros1.calls`).
- Introspection and parameters use the master's XML-RPC API with a timeout. A monitor checks
  the master every second: ``health()`` reports it, and when a master comes back (restarted),
  the node registers its publishers, subscribers and services again.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rosweb.errors import (
    BackendUnavailable,
    ConfigError,
    GraphError,
    MessageError,
    NotFoundError,
    RosWebError,
    ServiceError,
    TypeMismatchError,
)
from rosweb.graph.base import (
    Callback,
    Graph,
    Handle,
    ServiceHandler,
    normalize_name,
)
from rosweb.graph.ros1.calls import Proxies
from rosweb.graph.ros1.convert import (
    message_class,
    service_class,
    to_native,
    to_rospy,
)
from rosweb.graph.ros1.master import Master, MasterQueries, MasterRefused
from rosweb.graph.ros1.node import import_rospy, start_node
from rosweb.messages import Message, TypeStore, from_json

__all__ = ["Ros1Graph"]

log = logging.getLogger(__name__)

#: what a subscription's socket read takes at most (rospy's ``buff_size``; its default). Each read
#: allocates that much, and past the C library's mmap threshold (128 KiB) that is a map, page
#: faults and an unmap for every read: a 16 MiB buffer (the usual advice for images) cost a
#: tenth of the server's CPU for a 1 kHz String and for 30 Hz images alike (bench/README.md).
#: That advice is for ``queue_size=1`` subscribers, where one big read lets rospy keep only the
#: newest of a backlog; here a read that fills this buffer goes on with what already waits
#: (``node.read_what_waits``), so a backlog is still dropped at once, 64 KiB at a time. A bigger
#: message takes several reads.
RECEIVE = 1 << 16

#: messages a publisher queues per subscriber (rospy's ``queue_size``) for the connection's
#: thread to send, the oldest dropped past it
PUBLISH_QUEUE = 1000

PUBLISHER_LINGER = 10.0  # seconds an unused publisher stays registered
SERVICE_TYPE_TTL = 2.0  # seconds a service's type is trusted without asking the master


@dataclass
class _Publisher:
    pub: Any
    type: str
    refs: int = 0
    last_used: float = field(default_factory=time.monotonic)


class Ros1Graph(MasterQueries, Graph):
    """A Graph on a ROS 1 master, through this process's rospy node."""

    def __init__(self, url: str = "ros1://") -> None:
        self.url = url
        self._rospy = import_rospy()
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"node", "anonymous", "linger"}
        if unknown:
            raise ConfigError(
                f"ros1:// has no option {sorted(unknown)[0]!r} (node, anonymous, linger)"
            )
        try:
            self.linger = float(query.get("linger", PUBLISHER_LINGER))
        except ValueError:
            raise ConfigError(
                f"ros1:// option linger expects seconds, got {query['linger']!r}"
            ) from None
        if parts.netloc:
            master_uri = f"http://{parts.netloc}"
        else:
            import rosgraph

            master_uri = rosgraph.get_master_uri()
        anonymous = query.get("anonymous", "0").lower() in ("1", "true", "yes")
        self.caller_id = start_node(query.get("node", "/rosweb"), master_uri, anonymous=anonymous)
        self.types = TypeStore()
        #: topics whose last message came from a latched publisher (its connection header)
        self._latched: set[str] = set()
        self._master = Master(master_uri, self.caller_id)
        self._lock = threading.Lock()
        self._publishers: dict[str, _Publisher] = {}
        self._subscribers: dict[Handle, Any] = {}
        self._services: dict[Handle, Any] = {}
        self._proxies = Proxies(self._rospy)
        # name -> (provider URI, type, when the master last confirmed it)
        self._service_types: dict[str, tuple[str, str, float]] = {}
        self._master_pid: int | None = None
        self._master_ok = False
        self._closed = threading.Event()
        self.callback_errors = 0
        self.reregistrations = 0
        self._check_master()
        self._monitor = threading.Thread(
            target=self._watch, name="rosweb-ros1-monitor", daemon=True
        )
        self._monitor.start()

    # -- types ----------------------------------------------------------------------------------

    def _message_class(self, type_name: str) -> Any:
        cls = message_class(type_name)
        if not self.types.has_message(type_name):
            self.types.register_full_text(type_name, cls._full_text)
        if self.types.md5sum(type_name) != cls._md5sum:
            raise MessageError(
                f"the installed {type_name} (md5 {cls._md5sum}) differs from the definition "
                f"rosweb knows (md5 {self.types.md5sum(type_name)})"
            )
        return cls

    def known_type(self, name: str) -> bool:
        for load in (self._message_class, self._service_class):
            try:
                load(name)
            except RosWebError:
                continue
            return True
        return super().known_type(name)

    def _service_class(self, type_name: str) -> Any:
        cls = service_class(type_name)
        if not self.types.has_service(type_name):
            self.types.register_srv_full_text(
                type_name, cls._request_class._full_text, cls._response_class._full_text
            )
        return cls

    # -- topics ---------------------------------------------------------------------------------

    def _publisher(self, topic: str, type_name: str, latch: bool) -> _Publisher:
        with self._lock:
            entry = self._publishers.get(topic)
            if entry is not None:
                if entry.type != type_name:
                    raise TypeMismatchError(f"topic {topic} has type {entry.type}, not {type_name}")
                if latch and not entry.pub.impl.is_latch:
                    entry.pub.impl.enable_latch()
                entry.last_used = time.monotonic()
                return entry
        existing = self._topic_types().get(topic)  # BackendUnavailable when the master is down
        if existing is not None and existing != type_name:
            raise TypeMismatchError(f"topic {topic} has type {existing}, not {type_name}")
        cls = self._message_class(type_name)
        with self._lock:
            entry = self._publishers.get(topic)
            if entry is None:
                try:
                    pub = self._rospy.Publisher(topic, cls, queue_size=PUBLISH_QUEUE, latch=latch)
                except self._rospy.ROSException as err:
                    raise TypeMismatchError(str(err)) from err
                entry = self._publishers[topic] = _Publisher(pub, type_name)
            return entry

    def advertise(self, topic: str, type_name: str, *, latch: bool = False) -> Handle:
        topic = normalize_name(topic)
        entry = self._publisher(topic, type_name, latch)
        with self._lock:
            entry.refs += 1
        return Handle(topic, type_name, self._release_publisher)

    def _release_publisher(self, handle: Handle) -> None:
        with self._lock:
            entry = self._publishers.get(handle.name)
            if entry is not None:
                entry.refs -= 1
                entry.last_used = time.monotonic()

    def publish(self, topic: str, type_name: str, msg: Message, *, latch: bool = False) -> None:
        topic = normalize_name(topic)
        entry = self._publisher(topic, type_name, latch)
        entry.pub.publish(to_rospy(self.types, type_name, msg, entry.pub.data_class))

    def subscribe(self, topic: str, callback: Callback, type_name: str | None = None) -> Handle:
        topic = normalize_name(topic)
        # rospy blocks creating a subscriber while the master is down: ask it first
        known = self._topic_types()
        if type_name is None:
            type_name = known.get(topic)
            if type_name is None:
                raise NotFoundError("topic", topic)
        cls = self._message_class(type_name)
        store = self.types
        resolved = type_name

        latched = self._latched

        def on_message(obj: Any) -> None:
            header = getattr(obj, "_connection_header", None) or {}
            if header.get("latching") == "1":
                latched.add(topic)
            else:
                latched.discard(topic)
            try:
                callback(to_native(store, resolved, obj))
            except Exception:
                self.callback_errors += 1
                log.exception("subscriber callback of %s failed", topic)

        try:
            sub = self._rospy.Subscriber(
                topic, cls, on_message, queue_size=100, buff_size=RECEIVE, tcp_nodelay=True
            )
        except self._rospy.ROSException as err:
            raise TypeMismatchError(str(err)) from err
        handle = Handle(topic, type_name, self._unsubscribe)
        with self._lock:
            self._subscribers[handle] = sub
        return handle

    def latched(self, topic: str) -> bool:
        return normalize_name(topic) in self._latched

    def _unsubscribe(self, handle: Handle) -> None:
        with self._lock:
            sub = self._subscribers.pop(handle, None)
        if sub is not None:
            sub.unregister()

    # -- services -------------------------------------------------------------------------------

    def provide_service(self, name: str, type_name: str, handler: ServiceHandler) -> Handle:
        name = normalize_name(name)
        cls = self._service_class(type_name)
        srv = self.types.service(type_name)
        store = self.types

        def on_request(request: Any) -> Any:
            response = handler(to_native(store, srv.request, request))
            response = from_json(store, srv.response, response)
            return to_rospy(store, srv.response, response, cls._response_class)

        try:
            service = self._rospy.Service(name, cls, on_request)
        except self._rospy.ServiceException as err:
            raise GraphError(f"cannot provide {name}: {err}") from err
        handle = Handle(name, type_name, self._unprovide)
        with self._lock:
            self._services[handle] = service
            self._service_types[name] = (service.uri, type_name, time.monotonic())
        return handle

    def _unprovide(self, handle: Handle) -> None:
        with self._lock:
            service = self._services.pop(handle, None)
            self._service_types.pop(handle.name, None)
        if service is not None:
            service.shutdown("closed by rosweb")

    def service_type(self, name: str) -> str:
        """The service's type: asked of the master (and the provider) at most every few seconds
        per service, so repeated calls cost no XML-RPC round trip."""
        name = normalize_name(name)
        cached = self._service_types.get(name)
        if cached is not None and time.monotonic() - cached[2] < SERVICE_TYPE_TTL:
            return cached[1]
        try:
            uri = self._master.call("lookupService", name)
        except MasterRefused:
            self._service_types.pop(name, None)
            raise NotFoundError("service", name) from None
        if cached is not None and cached[0] == uri:
            self._service_types[name] = (uri, cached[1], time.monotonic())
            return cached[1]
        import rosservice

        try:
            type_name = rosservice.get_service_type(name)
        except rosservice.ROSServiceIOException as err:
            raise BackendUnavailable(f"cannot ask {name} for its type: {err}") from err
        if not type_name:
            raise NotFoundError("service", name)
        self._service_types[name] = (uri, type_name, time.monotonic())
        return str(type_name)

    def call_service(self, name: str, request: Message, *, timeout: float | None = None) -> Message:
        name = normalize_name(name)
        type_name = self.service_type(name)
        cls = self._service_class(type_name)
        srv = self.types.service(type_name)
        rospy_request = to_rospy(self.types, srv.request, request, cls._request_class)
        for attempt in (1, 2):  # a pooled connection may be stale (the provider restarted)
            try:
                response = self._proxies.call(name, cls, rospy_request, timeout)
            except self._rospy.ServiceException as err:
                if "responded with an error" in str(err):
                    raise ServiceError(f"service {name} failed: {err}") from err
                if attempt == 2:
                    raise ServiceError(f"cannot call {name}: {err}") from err
                self._service_types.pop(name, None)  # the provider may be gone: ask again
                self.service_type(name)  # NotFoundError if it is
                continue
            except RosWebError:
                raise
            except Exception as err:
                raise ServiceError(f"cannot call {name}: {err}") from err
            return to_native(self.types, srv.response, response)
        raise AssertionError("unreachable")  # pragma: no cover

    def costly_self_subscriptions(self) -> set[str]:
        with self._lock:  # rospy would read our own messages back over a TCP connection
            return set(self._publishers)

    def topic_type(self, name: str) -> str:
        name = normalize_name(name)
        type_name = self._topic_types().get(name)
        if not type_name:
            raise NotFoundError("topic", name)
        return type_name

    def services(self) -> dict[str, str]:
        _, _, services = self._master.call("getSystemState")
        result = {}
        for name, _providers in sorted(services):
            try:
                result[name] = self.service_type(name)
            except (NotFoundError, BackendUnavailable):
                continue  # gone between the two questions
        return result

    def health(self) -> dict[str, Any]:
        return {
            "ok": self._master_ok,
            "master": self._master.uri,
            "node": self.caller_id,
            "callback_errors": self.callback_errors,
            "reregistrations": self.reregistrations,
        }

    # -- the master monitor ---------------------------------------------------------------------

    def _check_master(self) -> None:
        try:
            pid = int(self._master.call("getPid"))
        except RosWebError:
            if self._master_ok:
                log.warning("ROS master at %s is unreachable", self._master.uri)
            self._master_ok = False
            return
        restarted = self._master_pid is not None and pid != self._master_pid
        came_back = not self._master_ok and self._master_pid is not None
        self._master_pid = pid
        if restarted or came_back:
            log.warning("ROS master at %s is back: registering again", self._master.uri)
            self._register_again()
        self._master_ok = True  # healthy once the master knows this node again

    def _register_again(self) -> None:
        """Tell a restarted master about this node's publishers, subscribers and services.

        rospy registers each one once, at creation; its registration manager does the work
        (and connects subscribers to the publishers the master reports).
        """
        from rospy.impl.registration import (
            Registration,
            RegManager,
            get_registration_listeners,
            get_service_manager,
            get_topic_manager,
        )

        manager = next(
            (x for x in get_registration_listeners().listeners if isinstance(x, RegManager)), None
        )
        if manager is None:
            log.error("rospy has no registration manager: cannot register again")
            return
        topics = get_topic_manager()
        for topic, type_name in topics.get_publications():
            manager.reg_added(topic, type_name, Registration.PUB)
        for topic, type_name in topics.get_subscriptions():
            manager.reg_added(topic, type_name, Registration.SUB)
        for name, service_uri in get_service_manager().get_services():
            manager.reg_added(name, service_uri, Registration.SRV)
        self.reregistrations += 1

    def _expire_publishers(self) -> None:
        now = time.monotonic()
        with self._lock:
            stale = [
                topic
                for topic, entry in self._publishers.items()
                if entry.refs <= 0 and now - entry.last_used > self.linger
            ]
            entries = [self._publishers.pop(topic) for topic in stale]
        for entry in entries:
            entry.pub.unregister()

    def _watch(self) -> None:
        while not self._closed.wait(1.0):
            try:
                self._check_master()
                self._expire_publishers()
            except Exception:
                log.exception("ROS 1 monitor failed")

    # -- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        """Unregister everything this graph made; the node itself lives until the process ends."""
        if self._closed.is_set():
            return
        self._closed.set()
        with self._lock:
            handles = [*self._subscribers, *self._services]
            publishers = list(self._publishers.values())
            self._publishers.clear()
        for handle in handles:
            handle.close()
        for entry in publishers:
            entry.pub.unregister()
        self._proxies.close()
