"""The client's requests and answers, with no I/O: shared by :class:`Client` and
:class:`AsyncClient`.

Each REST call is a :class:`Request` (method, path, query, JSON body, what a 404 means) built by
one function here; :func:`answer` turns the status and body of the response into the parsed JSON
or raises the :mod:`rosweb.errors` class of the server's error code. The rosbridge ops the client
sends are built here too.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rosweb.errors import (
    ClientConnectionError,
    ClientTimeout,
    RosWebError,
    ServerError,
    from_answer,
)
from rosweb.messages.convert import to_json

__all__ = [
    "COMMANDS",
    "Request",
    "answer",
    "error_from",
    "normalize",
    "ssl_context",
    "subscribe_op",
    "unsubscribe_op",
    "ws_url",
]

#: teleop commands of ``POST /api/teleop``
COMMANDS = ("forward", "back", "left", "right", "stop")


def normalize(name: str) -> str:
    """A ROS name with its leading slash: ``odom`` -> ``/odom``."""
    return "/" + name.strip().lstrip("/")


def _path(prefix: str, name: str) -> str:
    """``/api/topics`` + ``/camera/image_raw`` -> ``/api/topics/camera/image_raw`` (quoted)."""
    return f"{prefix}/{urllib.parse.quote(name.strip().lstrip('/'), safe='/~')}"


@dataclass(frozen=True)
class Request:
    """One REST call: what to send, and how to read a 404."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    body: str | None = None  # JSON text
    kind: str = "resource"  # a 404 is "no <kind> <name>"
    name: str = ""
    wait: float = 0.0  # seconds the server may take on purpose (added to the HTTP timeout)
    results: frozenset[int] = frozenset()  # error statuses whose body is a result (health's 503)

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json"} if self.body is not None else {}


# -- the calls ------------------------------------------------------------------------------------


def topics() -> Request:
    return Request("GET", "/api/topics")


def latest(topic: str, timeout: float | None) -> Request:
    params = {} if timeout is None else {"timeout": f"{timeout:g}"}
    wait = 2.0 if timeout is None else timeout
    return Request("GET", _path("/api/topics", topic), params, kind="topic", name=topic, wait=wait)


def publish(topic: str, msg: Any, type_name: str | None, latch: bool) -> Request:
    params = {"type": type_name} if type_name else {}
    if latch:
        params["latch"] = "true"
    return Request(
        "POST", _path("/api/topics", topic), params, to_json(msg), kind="topic", name=topic
    )


def services() -> Request:
    return Request("GET", "/api/services")


def service_info(service: str) -> Request:
    return Request("GET", _path("/api/services", service), kind="service", name=service)


def call(service: str, request: Any, timeout: float | None) -> Request:
    params = {} if timeout is None else {"timeout": f"{timeout:g}"}
    return Request(
        "POST",
        _path("/api/services", service),
        params,
        to_json(request if request is not None else {}),
        kind="service",
        name=service,
        wait=10.0 if timeout is None else timeout,
    )


def params() -> Request:
    return Request("GET", "/api/params")


def get_param(name: str) -> Request:
    return Request("GET", _path("/api/params", name), kind="param", name=name)


def set_param(name: str, value: Any) -> Request:
    return Request("PUT", _path("/api/params", name), body=to_json(value), kind="param", name=name)


def delete_param(name: str) -> Request:
    return Request("DELETE", _path("/api/params", name), kind="param", name=name)


def types() -> Request:
    return Request("GET", "/api/types")


def schema(type_name: str) -> Request:
    return Request("GET", _path("/api/types", type_name), kind="type", name=type_name)


def teleop_info() -> Request:
    return Request("GET", "/api/teleop")


def teleop(command: str, speed: float) -> Request:
    return Request("POST", "/api/teleop", body=to_json({"command": command, "speed": speed}))


def nodes() -> Request:
    return Request("GET", "/api/nodes")


def health() -> Request:
    return Request("GET", "/api/health", results=frozenset({503}))


# -- answers --------------------------------------------------------------------------------------


def transport_error(request: Request, url: str, waited: float, err: Exception) -> RosWebError:
    """The client's exception for a request that got no answer (httpx's errors, sync or async)."""
    import httpx

    if isinstance(err, httpx.TimeoutException):
        return ClientTimeout(
            f"{request.method} {request.path}: no answer from {url} within {waited:g} s"
        )
    return ClientConnectionError(f"cannot reach rosweb at {url}: {err or type(err).__name__}")


def answer(request: Request, status: int, content: bytes, headers: Mapping[str, str]) -> Any:
    """The parsed JSON of a response, or the error it stands for, raised."""
    try:
        body = json.loads(content) if content.strip() else None
    except ValueError:
        body = None
        if status < 400:
            raise ServerError(
                f"{request.method} {request.path}: the answer is not JSON", status, "bad_answer"
            ) from None
    if status < 400 or status in request.results:
        return body
    raise error_from(request, status, body, headers)


def _error_fields(body: Any, status: int) -> tuple[str, str, str | None]:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", f"HTTP {status}", None
    code = error.get("code")
    message = error.get("message")
    field_path = error.get("field")
    return (
        code if isinstance(code, str) else "",
        message if isinstance(message, str) and message else f"HTTP {status}",
        field_path if isinstance(field_path, str) else None,
    )


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        return float(headers.get("Retry-After", ""))
    except ValueError:
        return None


def error_from(request: Request, status: int, body: Any, headers: Mapping[str, str]) -> RosWebError:
    """The exception of an error answer, from its code (or status), with the server's message:
    the table is :mod:`rosweb.errors`' own (each class's ``code``)."""
    code, message, field_path = _error_fields(body, status)
    error = body.get("error") if isinstance(body, dict) else None
    holder = error.get("holder", "") if isinstance(error, dict) else ""
    return from_answer(
        status, code, message, field=field_path, holder=str(holder),
        retry_after=_retry_after(headers), kind=request.kind, name=request.name,
    )  # fmt: skip


# -- rosbridge ------------------------------------------------------------------------------------


Verify = bool | str | ssl.SSLContext


def ssl_context(verify: Verify) -> ssl.SSLContext:
    """The TLS context of ``verify``: True checks the server against the system's certificate
    authorities, a path (a PEM file, or a directory of them) against those certificates (a
    self-signed server certificate itself works), False checks nothing."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if verify is True:
        return ssl.create_default_context()
    try:
        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    except (OSError, ssl.SSLError) as err:
        raise ClientConnectionError(f"cannot load the CA certificate {verify}: {err}") from err


def ws_url(base: str, token: str | None, path: str = "/ws") -> str:
    """``http://host:8080`` -> ``ws://host:8080/ws?token=...`` (``https`` -> ``wss``)."""
    parts = urllib.parse.urlsplit(base)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    query = urllib.parse.urlencode({"token": token}) if token else ""
    return urllib.parse.urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + path, query, ""))


def subscribe_op(
    sid: str,
    topic: str,
    type_name: str | None,
    throttle_rate: float,
    queue_length: int | None,
) -> str:
    op: dict[str, Any] = {"op": "subscribe", "id": sid, "topic": topic}
    if type_name:
        op["type"] = type_name
    if throttle_rate:
        op["throttle_rate"] = throttle_rate
    if queue_length is not None:
        op["queue_length"] = queue_length
    return json.dumps(op)


def unsubscribe_op(sid: str, topic: str) -> str:
    return json.dumps({"op": "unsubscribe", "id": sid, "topic": topic})
