"""``rosweb run``'s server: Tornado in front, the Flask app behind its WSGI container.

Flask views run on a thread pool (``ROSWEB_THREADS``), so a slow request never blocks the event
loop; long-lived endpoints (WebSocket, streams) are native Tornado handlers in front of the WSGI
fallback (:mod:`rosweb.server.handlers`), because Tornado's WSGI container buffers whole
responses: a request that reaches the container is marked so, and the Flask stream routes refuse
it rather than buffer an endless response. Nothing that may block runs on the loop thread
(:mod:`rosweb.server.offload`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import socket
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import tornado.httpserver
import tornado.httputil
import tornado.netutil
import tornado.web
import tornado.wsgi
from flask import Flask
from tornado.log import access_log

from rosweb.errors import ConfigError
from rosweb.web.state import BUFFERED

__all__ = ["Server"]

log = logging.getLogger(__name__)


class _EveryMethod(tuple[str, ...]):
    def __contains__(self, method: object) -> bool:
        return True


class _Fallback(tornado.web.FallbackHandler):
    """The WSGI fallback for every method (TRACE, PROPFIND, ...): Flask answers what it does not
    route with the one JSON error and an ``Allow`` header, not Tornado's HTML 405."""

    SUPPORTED_METHODS = _EveryMethod()


_TOKEN = re.compile(r"([?&]token=)[^&]*")


def _access_level(status: int) -> int:
    """Access lines at DEBUG (``rosweb run --log-level debug`` shows them): a page polling the API
    every second would fill the log at INFO. Server errors stay visible."""
    return logging.ERROR if status >= 500 else logging.DEBUG


def _access_line(status: int, request: Any) -> None:
    """One access line, with ``?token=`` values left out (they are credentials)."""
    uri = _TOKEN.sub(r"\1REDACTED", request.uri or "")
    access_log.log(_access_level(status), "%d %s %s (%s) %.2fms", status, request.method, uri,
                   request.remote_ip, 1000.0 * request.request_time())  # fmt: skip


def log_request(handler: tornado.web.RequestHandler) -> None:
    """The native handlers' access line (WebSocket, SSE, MJPEG)."""
    _access_line(handler.get_status(), handler.request)


class _Container(tornado.wsgi.WSGIContainer):
    """The WSGI container, telling the app it buffers whole responses."""

    def environ(self, request: Any) -> dict[str, Any]:
        environ: dict[str, Any] = super().environ(request)
        environ[BUFFERED] = True
        return environ

    def _log(self, status_code: int, request: Any) -> None:
        _access_line(status_code, request)


class Server:
    """Serve ``app`` on ``host:port`` (port 0 picks a free one: read :attr:`port` after start)."""

    def __init__(
        self,
        app: Flask,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        threads: int = 32,
        handlers: list[Any] | None = None,
        extra_ports: dict[int, list[Any]] | None = None,
        on_ready: Callable[[Server], None] | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
        sockets: dict[int, list[socket.socket]] | None = None,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.threads = threads
        self.handlers = handlers or []
        self.extra_ports = extra_ports or {}
        self.on_ready = on_ready
        self.ssl: ssl.SSLContext | None = None
        if certfile:
            self.ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            try:
                self.ssl.load_cert_chain(certfile, keyfile)
            except (OSError, ssl.SSLError) as err:
                raise ConfigError(f"cannot load the TLS certificate {certfile}: {err}") from err
        #: sockets already bound, by port (the workers of ``rosweb run --workers`` share them)
        self.sockets = sockets or {}
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def for_app(
        cls,
        app: Flask,
        settings: Any,
        *,
        sockets: dict[int, list[socket.socket]] | None = None,
        on_ready: Callable[[Server], None] | None = None,
    ) -> Server:
        """The server of ``rosweb run`` for ``app``: address, threads, TLS and the native
        handlers (and the rosbridge port) from its ``ROSWEB_*`` settings."""
        from rosweb.server.handlers import rosbridge_handlers, tornado_handlers

        bridge_port = settings["ROSWEB_ROSBRIDGE_PORT"]
        return cls(
            app,
            settings["ROSWEB_HOST"],
            settings["ROSWEB_PORT"],
            threads=settings["ROSWEB_THREADS"],
            handlers=tornado_handlers(app),
            extra_ports={bridge_port: rosbridge_handlers(app)} if bridge_port else None,
            on_ready=on_ready,
            certfile=settings["ROSWEB_CERT"] or None,
            keyfile=settings["ROSWEB_KEY"] or None,
            sockets=sockets,
        )

    @property
    def tls(self) -> bool:
        return self.ssl is not None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    async def _serve(self, install_signals: bool) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="rosweb-wsgi")
        wsgi = _Container(self.app, executor=executor)
        application = tornado.web.Application(
            [*self.handlers, (r".*", _Fallback, {"fallback": wsgi})], log_function=log_request
        )
        servers = [tornado.httpserver.HTTPServer(application, xheaders=False, ssl_options=self.ssl)]
        try:
            sockets = self._listen(self.port)
            servers[0].add_sockets(sockets)
            self.port = sockets[0].getsockname()[1]
            for port, handlers in self.extra_ports.items():
                extra = tornado.httpserver.HTTPServer(
                    tornado.web.Application(handlers, log_function=log_request),
                    ssl_options=self.ssl,
                )
                extra.add_sockets(self._listen(port))
                servers.append(extra)
            if install_signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    self._loop.add_signal_handler(sig, self._stop.set)
        except BaseException as err:
            self._error = err
            self._ready.set()
            for server in servers:
                server.stop()
            executor.shutdown(wait=False)
            raise
        self._ready.set()
        if self.on_ready is not None:
            self.on_ready(self)
        try:
            await self._stop.wait()
        finally:
            for server in servers:
                server.stop()
            for server in servers:
                await server.close_all_connections()
            executor.shutdown(wait=False, cancel_futures=True)

    def _listen(self, port: int) -> list[socket.socket]:
        return self.sockets.get(port) or tornado.netutil.bind_sockets(
            port, self.host, family=socket.AF_UNSPEC
        )

    def serve_forever(self) -> None:
        """Serve in this thread until SIGINT or SIGTERM."""
        asyncio.run(self._serve(install_signals=True))

    def start(self) -> None:
        """Serve in a background thread; returns once listening (raises if binding failed)."""
        self._thread = threading.Thread(target=self._run_thread, name="rosweb-server", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            raise self._error

    def _run_thread(self) -> None:
        try:
            asyncio.run(self._serve(install_signals=False))
        except BaseException as err:  # reported to start()'s caller
            self._error = self._error or err

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
