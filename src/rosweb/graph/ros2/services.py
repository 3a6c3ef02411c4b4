"""Service servers and clients of a ROS 2 node over Zenoh, as rmw_zenoh maps them.

- A server is a complete Zenoh queryable on the service's key with an ``SS`` token. A request
  (the query's payload, CDR of ``Name_Request``) runs its handler on a worker pool of
  ``SERVICE_WORKERS`` threads, at most ``MAX_PENDING`` requests waiting (more are answered with
  an error at once); the reply carries the response's CDR and the request's sequence number and
  client GID back in its attachment.
- A client is an ``SC`` token and a Zenoh get on the server's key (target ALL_COMPLETE, no
  consolidation), with the attachment (sequence number, timestamp, client GID). The first reply
  is the response; an error reply is a ServiceError; none within the timeout a ServiceTimeout.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import zenoh

from rosweb.errors import (
    GraphError,
    MessageError,
    NotFoundError,
    RosWebError,
    ServiceError,
    ServiceTimeout,
    TypeMismatchError,
    UnknownTypeError,
)
from rosweb.graph.base import Handle, ServiceHandler, normalize_name
from rosweb.graph.ros2 import keys
from rosweb.graph.ros2.keys import Attachment, Qos
from rosweb.graph.ros2.node import Node
from rosweb.messages import Message, from_json
from rosweb.messages.ros2 import ros2_type_name

__all__ = ["MAX_CLIENTS", "MAX_PENDING", "SERVICE_WORKERS", "Services"]

log = logging.getLogger(__name__)

SERVICE_WORKERS = 8
MAX_PENDING = 64
#: services this node keeps a client (an SC token) for
MAX_CLIENTS = 1000
#: seconds between two queries of a call no server answered while the graph lists the server
#: (its queryable not routed to us yet); the call's timeout bounds the whole
RETRY_PAUSE = 0.05
_CDR = zenoh.Encoding("application/cdr")


@dataclass
class _Client:
    entity_id: int
    gid: bytes = field(default_factory=keys.new_gid)
    sequence: int = 1
    lock: threading.Lock = field(default_factory=threading.Lock)


class Services:
    def __init__(self, node: Node) -> None:
        self.node = node
        self._servers: dict[str, tuple[Handle, Any, int]] = {}
        self._clients: dict[str, _Client] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(SERVICE_WORKERS, thread_name_prefix="rosweb-ros2-srv")
        self._pending = threading.BoundedSemaphore(MAX_PENDING)
        self.handler_errors = 0

    # -- servers --------------------------------------------------------------------------------

    def provide(self, name: str, type_name: str, handler: ServiceHandler) -> Handle:
        name = normalize_name(name)
        types = self.node.types
        srv = types.service(type_name)  # UnknownTypeError early
        handle = Handle(name, srv.name, self._unprovide)
        with self._lock:
            if name in self._servers:
                raise GraphError(f"service {name} is already provided")
            key = self.node.topic_key(name, srv.name)

            def on_query(query: zenoh.Query) -> None:
                self._on_query(name, srv.name, handler, key, query)

            queryable = self.node.session.declare_queryable(key, on_query, complete=True)
            entity_id = self.node.declare_entity(
                keys.SERVICE, name, srv.name, Qos(depth=self.node.options.depth)
            )
            self._servers[name] = (handle, queryable, entity_id)
        return handle

    def _unprovide(self, handle: Handle) -> None:
        with self._lock:
            entry = self._servers.get(handle.name)
            if entry is None or entry[0] is not handle:
                return
            del self._servers[handle.name]
        _, queryable, entity_id = entry
        self.node.undeclare_entity(entity_id)
        try:
            queryable.undeclare()
        except zenoh.ZError:
            log.debug("ros2://: queryable of %s already undeclared", handle.name)

    def _on_query(
        self, name: str, srv_type: str, handler: ServiceHandler, key: str, query: zenoh.Query
    ) -> None:
        if not self._pending.acquire(blocking=False):
            query.reply_err(f"service {name} is busy ({MAX_PENDING} requests waiting)")
            query.drop()  # type: ignore[no-untyped-call]
            return
        payload = query.payload.to_bytes() if query.payload is not None else b""
        raw = query.attachment.to_bytes() if query.attachment is not None else b""
        self._pool.submit(self._serve, name, srv_type, handler, key, query, payload, raw)

    def _serve(
        self,
        name: str,
        srv_type: str,
        handler: ServiceHandler,
        key: str,
        query: zenoh.Query,
        payload: bytes,
        raw_attachment: bytes,
    ) -> None:
        types, codec = self.node.types, self.node.codec
        srv = types.service(srv_type)
        try:
            request = codec.decode(srv.request, payload)
            response = from_json(types, srv.response, handler(request))
            body = codec.encode(srv.response, response)
        except Exception as err:  # the handler's own failure: the caller gets an error reply
            self.handler_errors += 1
            log.warning("ros2://: service %s failed: %s", name, err)
            self._reply(query, None, f"service {name} failed: {err}", raw_attachment)
            return
        self._reply(query, body, None, raw_attachment)

    def _reply(self, query: zenoh.Query, body: bytes | None, error: str | None, raw: bytes) -> None:
        try:
            request = Attachment.decode(raw)
            if body is not None:
                attachment = None
                if request is not None:  # the client's sequence number and GID, a new timestamp
                    attachment = Attachment(request.sequence, time.time_ns(), request.gid).encode()
                query.reply(query.key_expr, body, encoding=_CDR, attachment=attachment)
            else:
                query.reply_err(error or "service failed")
        except zenoh.ZError as err:
            log.warning("ros2://: cannot reply to a request: %s", err)
        finally:
            query.drop()  # type: ignore[no-untyped-call]
            self._pending.release()

    # -- clients --------------------------------------------------------------------------------

    def _client(self, name: str, srv_type: str) -> _Client:
        with self._lock:
            client = self._clients.get(name)
            if client is None:
                if len(self._clients) >= MAX_CLIENTS:
                    raise GraphError(f"ros2:// has clients of {MAX_CLIENTS} services already")
                qos = Qos(depth=self.node.options.depth)
                entity_id = self.node.declare_entity(keys.CLIENT, name, srv_type, qos)
                client = self._clients[name] = _Client(entity_id)
            return client

    def service_type(self, name: str) -> str:
        name = normalize_name(name)
        with self._lock:
            entry = self._servers.get(name)
        if entry is not None:
            return entry[0].type
        server = self.node.cache.server(name)
        if server is None:
            raise NotFoundError("service", name)
        return ros2_type_name(server.dds_type)

    def call(self, name: str, request: Message, timeout: float | None) -> Message:
        name = normalize_name(name)
        node = self.node
        srv_type = self.service_type(name)
        if not node.types.has_service(srv_type):
            raise UnknownTypeError(srv_type)
        srv = node.types.service(srv_type)
        server = node.cache.server(name)
        ours = node.types.type_hash(srv.name)
        if server is not None and server.type_hash != ours:
            raise TypeMismatchError(
                f"service {name}: the server's {srv.name} has type hash {server.type_hash}, "
                f"rosweb's ({node.options.distro}) is {ours}: another definition or distro"
            )
        client = self._client(name, srv.name)
        try:
            payload = node.codec.encode(srv.request, request)
        except MessageError as err:
            raise ServiceError(f"service {name}: {err}") from err
        with client.lock:
            attachment = Attachment(client.sequence, time.time_ns(), client.gid).encode()
            client.sequence += 1
        wait = node.options.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        while True:
            answer = self._query(name, srv, payload, attachment, deadline, wait)
            if answer is not None:
                return answer
            left = deadline - time.monotonic()
            if left <= wait * 0.1:
                raise ServiceTimeout(f"service {name} did not answer within {wait} s")
            # no queryable answered at all: discovery runs ahead of routing (a server's
            # liveliness token can arrive before its queryable reaches us through the
            # router); while the graph still lists the server, ask again (no server saw it)
            if node.cache.server(name) is None:
                raise NotFoundError("service", name)
            time.sleep(min(RETRY_PAUSE, left / 2))

    def _query(
        self, name: str, srv: Any, payload: bytes, attachment: bytes, deadline: float, wait: float
    ) -> Message | None:
        """One query; the response, or None when no server answered at all (none saw it)."""
        node = self.node
        try:
            replies = node.session.get(
                node.topic_key(name, srv.name), payload=payload, encoding=_CDR,
                attachment=attachment, target=zenoh.QueryTarget.ALL_COMPLETE,
                consolidation=zenoh.ConsolidationMode.NONE,
                timeout=max(deadline - time.monotonic(), 0.001),
            )  # fmt: skip
            for reply in replies:
                if reply.ok is not None:
                    return node.codec.decode(srv.response, reply.ok.payload.to_bytes())
                if reply.err is not None:
                    text = reply.err.payload.to_bytes().decode(errors="replace")
                    if text == "Timeout":  # Zenoh's own reply: a server had it and was slow
                        raise ServiceTimeout(f"service {name} did not answer within {wait} s")
                    raise ServiceError(text)
        except RosWebError:
            raise
        except zenoh.ZError as err:
            raise ServiceError(f"service {name}: {err}") from err
        return None

    def close(self) -> None:
        with self._lock:
            self._servers.clear()
            self._clients.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
