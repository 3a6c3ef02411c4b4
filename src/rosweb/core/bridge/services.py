"""rosbridge ops on services: call_service (rosapi's introspection included),
advertise_service, service_response, unadvertise_service.

A call blocks (the backend, the network, a browser that provides the service), so it runs on
the session's executor; its response is queued like any other frame.
"""

from __future__ import annotations

import logging
from typing import Any

from rosweb.core.bridge.base import Pending, SessionBase
from rosweb.core.bridge.fields import COMPRESSIONS, OpError, as_dict, field, required
from rosweb.core.bridge.rosapi import ROSAPI, call_rosapi
from rosweb.errors import RosWebError, ServiceError, ServiceTimeout, ValidationError
from rosweb.graph import normalize_name
from rosweb.messages import Message

__all__ = ["ServiceOps"]

log = logging.getLogger(__name__)


class ServiceOps(SessionBase):
    """The service ops of a :class:`~rosweb.core.bridge.session.BridgeSession`."""

    def _call_service(self, msg: dict[str, Any]) -> None:
        service = normalize_name(required(msg, "service"))
        mid = field(msg, "id", (str, int))
        args = msg.get("args")
        timeout = field(msg, "timeout", (int, float), self.options.service_timeout)
        compression = field(msg, "compression", str, "none")
        if compression not in COMPRESSIONS:
            raise OpError(
                f"compression {compression!r} is not one of {COMPRESSIONS}", "compression"
            )
        if args is not None and not isinstance(args, list | dict):
            raise OpError("field args expects a list or an object", "args")
        self._executor.submit(self._run_call, service, mid, args, timeout, compression)

    def _run_call(
        self, service: str, mid: str | int | None, args: Any, timeout: float, compression: str
    ) -> None:
        reply: dict[str, Any] = {"op": "service_response", "service": service}
        if mid is not None:
            reply["id"] = mid
        try:
            if service in ROSAPI:
                values = call_rosapi(self._act(), service, as_dict(args))
            else:
                values = self._call_graph(service, args, timeout)  # encoded once, by send()
            reply.update(values=values, result=True)
        except RosWebError as err:
            reply.update(values=str(err), result=False)
            self.status("error", f"call_service {service}: {err}", mid)
        except Exception as err:
            log.exception("call_service %s failed", service)
            reply.update(values=f"internal error ({type(err).__name__})", result=False)
        if not self.closed:
            self.send(reply, "cbor" if compression != "none" else "none")

    def _call_graph(self, service: str, args: Any, timeout: float) -> Message:
        robot = self._act()
        srv = robot.types.service(robot.service_type(service))
        if isinstance(args, list):  # positional: the request's fields in order
            names = [f.name for f in robot.types.fields(srv.request)]
            if len(args) > len(names):
                raise ValidationError(f"{len(args)} args for {len(names)} fields", "args")
            args = dict(zip(names, args, strict=False))
        return robot.call(service, args or {}, timeout=timeout)

    def _advertise_service(self, msg: dict[str, Any]) -> None:
        service = normalize_name(required(msg, "service"))
        type_name = required(msg, "type")
        if not self._act().types.has_service(type_name):
            raise OpError(f"unknown service type {type_name!r}", "type")
        self._act().write("service", service)
        with self._lock:
            if service in self._services:
                raise OpError(f"{service} is already advertised by this client", "service")

        raw_name = msg["service"]  # clients route calls by the exact name they advertised

        def handler(request: Message) -> Message:
            return self._ask_client(raw_name, request)

        handle = self._act().provide(service, type_name, handler)
        with self._lock:
            self._services[service] = handle

    def _ask_client(self, service: str, request: Message) -> Message:
        """Forward a call of a service this client provides; wait for its service_response."""
        call_id = f"service_request:{service}:{next(self._ids)}"
        waiting = Pending()
        with self._lock:
            if self.closed:
                raise ServiceError(f"the client providing {service} disconnected")
            self._pending[call_id] = waiting
        self.send({"op": "call_service", "id": call_id, "service": service, "args": request})
        try:
            if not waiting.done.wait(self.options.service_timeout):
                raise ServiceTimeout(f"the client providing {service} did not answer in time")
        finally:
            with self._lock:
                self._pending.pop(call_id, None)
        if not waiting.result:
            reason = waiting.values if waiting.values else "the client reported a failure"
            raise ServiceError(f"{service} failed in the client: {reason}")
        return waiting.values if isinstance(waiting.values, dict) else {}

    def _service_response(self, msg: dict[str, Any]) -> None:
        call_id = required(msg, "id", (str, int))
        with self._lock:
            waiting = self._pending.get(call_id)
        if waiting is None:
            raise OpError(f"no call {call_id!r} is waiting for a response", "id")
        waiting.values = msg.get("values")
        waiting.result = bool(msg.get("result", True))
        waiting.done.set()

    def _unadvertise_service(self, msg: dict[str, Any]) -> None:
        service = normalize_name(required(msg, "service"))
        with self._lock:
            handle = self._services.pop(service, None)
        if handle is None:
            raise OpError(f"{service} is not advertised by this client", "service")
        handle.close()
