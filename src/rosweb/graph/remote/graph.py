"""``agent://``: a Graph whose node lives in an agent process (``rosweb agent``).

URL: ``agent://`` followed by the agent's ZeroMQ address, ``agent://ipc:///run/rosweb/agent.sock``
or ``agent://tcp://127.0.0.1:5555``; ``agent://127.0.0.1:5555`` is short for the tcp form and
``agent:///run/rosweb/agent.sock`` for the ipc one. Options after ``?``: ``timeout`` (seconds a
call waits for the agent, default 10), ``wait`` (seconds to wait for the agent at start, default
10; then BackendUnavailable).

The web side cannot tell it from an in-process graph: same methods, same errors, callbacks on a
thread of this process (the connection's I/O thread, so they must hand off quickly, as always).
While the agent is unreachable, ``health()`` says ``ok: false`` and every call raises
BackendUnavailable within ``timeout`` (at once when the connection is known to be down). When
the agent is back (restarted), this graph starts a new session by itself and restores its
subscriptions, publishers and services there.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from rosweb.errors import (
    BackendUnavailable,
    ConfigError,
    NotFoundError,
    RosWebError,
    ServiceError,
)
from rosweb.graph.base import Callback, Graph, Handle, ServiceHandler, normalize_name
from rosweb.graph.remote.client import RpcClient
from rosweb.graph.remote.codec import loads
from rosweb.graph.remote.wire import check_address
from rosweb.messages import Message, TypeStore

__all__ = ["AgentGraph", "RemoteTypeStore", "parse_url"]

log = logging.getLogger(__name__)

MISSING_TTL = 2.0  # seconds a type the agent does not know is not asked for again


def parse_url(url: str) -> tuple[str, dict[str, float]]:
    """``agent://ADDRESS[?timeout=S&wait=S]`` -> (ZeroMQ address, options)."""
    if not url.startswith("agent://"):
        raise ConfigError(f"not an agent:// URL: {url!r}")
    rest, _, query = url[len("agent://") :].partition("?")
    if rest.startswith(("ipc://", "tcp://")):
        address = rest
    elif rest.startswith("/"):
        address = f"ipc://{rest}"
    elif rest:
        address = f"tcp://{rest}"
    else:
        raise ConfigError(
            "agent:// needs the agent's address: agent://ipc:///path/agent.sock or "
            "agent://tcp://127.0.0.1:5555"
        )
    options: dict[str, float] = {"timeout": 10.0, "wait": 10.0}
    for key, values in parse_qs(query).items():
        if key not in options:
            raise ConfigError(f"agent:// has no option {key!r} (timeout, wait)")
        try:
            options[key] = float(values[-1])
        except ValueError:
            raise ConfigError(
                f"agent:// option {key} expects seconds, got {values[-1]!r}"
            ) from None
    return check_address(address), options


class RemoteTypeStore(TypeStore):
    """A type store that asks the agent for the types it does not know (and keeps them)."""

    def __init__(
        self,
        fetch: Callable[[str], dict[str, str] | None],
        names: Callable[[], dict[str, list[str]]],
        *,
        distro: str = "noetic",
    ) -> None:
        self._fetch = fetch
        self._names = names
        self._missing: dict[str, float] = {}
        self._local = threading.local()
        super().__init__(distro=distro)  # a ROS 2 store registers types: the above first

    def _learn(self, name: str) -> bool:
        """Ask the agent for ``name``'s definition and register it; False if it has none."""
        if getattr(self._local, "busy", False) or self._missing.get(name, 0.0) > time.monotonic():
            return False
        self._local.busy = True
        try:
            found = self._fetch(name)
            if found is not None and found.get("kind") == "msg":
                self.register_full_text(name, found["text"])
            elif found is not None and found.get("kind") == "srv":
                self.register_srv_full_text(found["name"], found["request"], found["response"])
            else:
                found = None
        except RosWebError as err:
            log.debug("cannot learn type %s from the agent: %s", name, err)
            found = None
        finally:
            self._local.busy = False
        if found is None:
            self._missing[name] = time.monotonic() + MISSING_TTL
        return found is not None

    def has_message(self, name: str) -> bool:
        return super().has_message(name) or (self._learn(name) and super().has_message(name))

    def has_service(self, name: str) -> bool:
        if super().has_service(name):
            return True
        if super().has_message(name):  # a known message is no service: nothing to ask
            return False
        return self._learn(name) and super().has_service(name)

    def service(self, name: str) -> Any:
        if not super().has_service(name):
            self._learn(name)
        return super().service(name)

    def _defs(self, name: str) -> tuple[list[Any], list[Any]]:
        if not super().has_message(name):
            self._learn(name)
        return super()._defs(name)

    def message_types(self) -> list[str]:
        return sorted(set(super().message_types()) | set(self._remote_names("messages")))

    def service_types(self) -> list[str]:
        return sorted(set(super().service_types()) | set(self._remote_names("services")))

    def _remote_names(self, kind: str) -> list[str]:
        try:
            return list(self._names().get(kind, []))
        except RosWebError:
            return []


@dataclass
class _Record:
    """What this graph asked the agent to hold, to ask again in a new session."""

    method: str
    args: list[Any]
    kwargs: dict[str, Any]


class AgentGraph(Graph):
    """A Graph served by an agent process (see the module's docstring)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.address, options = parse_url(url)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._subscribers: dict[str, dict[int, Callback]] = {}  # topic -> hid -> callback
        self._handlers: dict[int, tuple[str, ServiceHandler]] = {}
        self._records: dict[int, _Record] = {}
        self._closed = False
        self.callback_errors = 0
        self.restore_errors = 0
        self._client = RpcClient(
            self.address,
            timeout=options["timeout"],
            on_data=self._on_data,
            on_session=self._restore,
            exports={"service": self._serve},
        )
        self._graph = self._client.proxy("graph")
        if not self._client.wait_ready(options["wait"]):
            self._client.close()
            raise BackendUnavailable(f"no agent answers at {self.address} (rosweb agent)")
        self.types = RemoteTypeStore(
            lambda name: self._graph.type_definition(name),
            lambda: self._graph.type_names(),
            distro=self._agent_distro(),
        )

    def _agent_distro(self) -> str:
        """The agent's type set: ROS 2 names and JSON form behind a ros2:// agent."""
        try:
            return str(self._graph.type_flavour()["distro"])
        except RosWebError as err:  # an agent from before type sets were told: ROS 1's
            log.info("the agent tells no type set (%s): ROS 1 types", err)
            return "noetic"

    # -- sessions -------------------------------------------------------------------------------

    def _restore(self) -> None:
        """A new session (first, or the agent restarted): ask it to hold what we held."""
        with self._lock:
            records = sorted(self._records.items())
        for _hid, record in records:
            try:
                self._client.call("graph", record.method, *record.args, internal=True,
                                  **record.kwargs)  # fmt: skip
            except RosWebError as err:
                self.restore_errors += 1
                log.warning("cannot restore %s%s with the agent: %s", record.method,
                            tuple(record.args[1:]), err)  # fmt: skip
        if records:
            log.info("restored %d subscriptions, publishers and services", len(records))

    def _hold(self, method: str, *args: Any, **kwargs: Any) -> tuple[int, Any]:
        """Ask the agent for a subscription, publisher or service, named by a new hid."""
        hid = next(self._ids)
        record = _Record(method, [hid, *args], kwargs)
        with self._lock:
            self._records[hid] = record
        try:
            result = self._graph.__getattr__(method)(hid, *args, **kwargs)
        except BaseException:
            with self._lock:
                self._records.pop(hid, None)
            raise
        return hid, result

    def _release(self, hid: int) -> None:
        with self._lock:
            self._records.pop(hid, None)
        with contextlib.suppress(BackendUnavailable):  # gone: the agent forgot us already
            self._graph.close_handle(hid)

    # -- topics ---------------------------------------------------------------------------------

    def advertise(self, topic: str, type_name: str, *, latch: bool = False) -> Handle:
        topic = normalize_name(topic)
        hid, resolved = self._hold("advertise", topic, type_name, latch=latch)
        return Handle(topic, resolved, lambda handle: self._release(hid))

    def publish(self, topic: str, type_name: str, msg: Message, *, latch: bool = False) -> None:
        self._graph.publish(normalize_name(topic), type_name, msg, latch=latch)

    def subscribe(self, topic: str, callback: Callback, type_name: str | None = None) -> Handle:
        topic = normalize_name(topic)
        hid = next(self._ids)
        with self._lock:  # first, so no message (a latched one) arrives before we listen
            self._subscribers.setdefault(topic, {})[hid] = callback
            self._records[hid] = _Record("subscribe", [hid, topic, type_name], {})
        try:
            resolved = self._graph.subscribe(hid, topic, type_name)
        except BaseException:
            self._forget_subscriber(topic, hid)
            raise
        with self._lock:  # restore it with the type it got
            self._records[hid] = _Record("subscribe", [hid, topic, resolved], {})
        return Handle(topic, resolved, lambda handle: self._unsubscribe(topic, hid))

    def _forget_subscriber(self, topic: str, hid: int) -> None:
        with self._lock:
            self._records.pop(hid, None)
            callbacks = self._subscribers.get(topic, {})
            callbacks.pop(hid, None)
            if not callbacks:
                self._subscribers.pop(topic, None)

    def _unsubscribe(self, topic: str, hid: int) -> None:
        self._forget_subscriber(topic, hid)  # nothing more is delivered from now on
        self._release(hid)

    def _on_data(self, key: bytes, payload: bytes) -> None:
        topic, _, only = key.decode().partition("\0")
        callbacks = self._subscribers.get(topic)
        if not callbacks:
            return
        msg = loads(payload)
        if only:
            callback = callbacks.get(int(only))
            targets = [callback] if callback is not None else []
        else:
            targets = list(callbacks.values())
        for callback in targets:
            try:
                callback(msg)
            except Exception:
                self.callback_errors += 1
                log.exception("subscriber callback of %s failed", topic)

    # -- services -------------------------------------------------------------------------------

    def provide_service(self, name: str, type_name: str, handler: ServiceHandler) -> Handle:
        name = normalize_name(name)
        self.types.service(type_name)  # UnknownTypeError early, and the type known here
        hid = next(self._ids)
        with self._lock:
            self._handlers[hid] = (name, handler)
            self._records[hid] = _Record("provide_service", [hid, name, type_name], {})
        try:
            self._graph.provide_service(hid, name, type_name)
        except BaseException:
            self._drop_handler(hid)
            raise
        return Handle(name, type_name, lambda handle: self._unprovide(hid))

    def _drop_handler(self, hid: int) -> None:
        with self._lock:
            self._handlers.pop(hid, None)
            self._records.pop(hid, None)

    def _unprovide(self, hid: int) -> None:
        self._drop_handler(hid)
        self._release(hid)

    def _serve(self, hid: int, request: Message) -> Message:
        """A request the agent forwards to a service this graph provides."""
        found = self._handlers.get(hid)
        if found is None:
            raise NotFoundError("service", f"#{hid}")
        name, handler = found
        try:
            return handler(request)
        except RosWebError:
            raise
        except Exception as err:  # as an in-process backend reports a failed handler
            raise ServiceError(f"service {name} failed: {err}") from err

    def call_service(self, name: str, request: Message, *, timeout: float | None = None) -> Message:
        # the service's timeout travels positionally: ``timeout=`` is the wait for the reply
        wait = max(self._client.timeout, 30.0) if timeout is None else timeout + 5.0
        response: Message = self._client.call(
            "graph", "call_service", normalize_name(name), request, timeout, timeout=wait
        )
        return response

    # -- parameters -----------------------------------------------------------------------------

    def get_param(self, name: str) -> Any:
        return self._graph.get_param(name)

    def set_param(self, name: str, value: Any) -> None:
        self._graph.set_param(name, value)

    def delete_param(self, name: str) -> None:
        self._graph.delete_param(name)

    def param_names(self) -> list[str]:
        names: list[str] = self._graph.param_names()
        return names

    # -- introspection --------------------------------------------------------------------------

    def topics(self) -> dict[str, str]:
        topics: dict[str, str] = self._graph.topics()
        return topics

    def services(self) -> dict[str, str]:
        services: dict[str, str] = self._graph.services()
        return services

    def nodes(self) -> list[str]:
        nodes: list[str] = self._graph.nodes()
        return nodes

    def topic_type(self, name: str) -> str:
        return str(self._graph.topic_type(name))

    def service_type(self, name: str) -> str:
        return str(self._graph.service_type(name))

    def costly_self_subscriptions(self) -> set[str]:
        return set(self._graph.costly_self_subscriptions())

    def latched(self, topic: str) -> bool:
        return bool(self._graph.latched(topic))

    def param_meta(self) -> dict[str, dict[str, Any]]:
        meta: dict[str, dict[str, Any]] = self._graph.param_meta()
        return meta

    def known_type(self, name: str) -> bool:
        return self.types.has_message(name) or self.types.has_service(name)

    def health(self) -> dict[str, Any]:
        local = {
            "address": self.address,
            "sessions": self._client.sessions,
            "callback_errors": self.callback_errors,
            "restore_errors": self.restore_errors,
        }
        try:
            report: dict[str, Any] = self._graph.health()
        except BackendUnavailable as err:
            return {"ok": False, "error": str(err), "agent": local}
        report["agent"] = {**report.get("agent", {}), **local}
        return report

    @property
    def link(self) -> RpcClient:
        """The connection to the agent, for the other objects it serves (the robot's control:
        :class:`rosweb.control.remote.RemoteControl`)."""
        return self._client

    # -- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        """Leave the agent (it drops this graph's subscriptions, publishers and services)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._subscribers.clear()
            self._handlers.clear()
            self._records.clear()
        self._client.close()
