"""One MQTT 5 connection to the broker (paho-mqtt), for the robot bridge and the fleet backend.

paho runs the socket on a thread of its own and reconnects by itself (0.2 s doubling to 2 s);
the link subscribes its topics again on every connection (each one starts a clean session, so
nothing queued in the broker while away is delivered late). Received messages are handed to
``on_message(topic, payload, properties)`` on paho's thread: handlers must not block.
Publishing while disconnected fails at once (:class:`~rosweb.errors.BackendUnavailable`)
instead of queueing: a command must never wait for a reconnect.
"""

from __future__ import annotations

import logging
import ssl
import threading
import uuid
from collections.abc import Callable
from typing import Any

from rosweb.errors import BackendUnavailable, ConfigError
from rosweb.graph.mqtt.contract import JSON, FleetOptions

__all__ = ["INSTALL_HINT", "Incoming", "MqttLink"]

log = logging.getLogger(__name__)

INSTALL_HINT = "fleets over MQTT need paho-mqtt: pip install 'rosweb[mqtt]'"
#: QoS 1 messages paho keeps in flight or queued (beyond: BackendUnavailable, never memory)
MAX_QUEUED = 1000

try:
    import paho.mqtt.client as _paho
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
except ImportError:  # pragma: no cover - the error names the extra to install
    _paho = None  # type: ignore[assignment]


class Incoming:
    """One received message: topic, payload, and the MQTT 5 properties that matter here."""

    __slots__ = ("content_type", "correlation", "payload", "response_topic", "retain", "topic",
                 "user")  # fmt: skip

    def __init__(self, message: Any) -> None:
        props = getattr(message, "properties", None)
        self.topic: str = message.topic
        self.payload: bytes = message.payload
        self.retain: bool = bool(message.retain)
        self.content_type: str | None = getattr(props, "ContentType", None)
        self.response_topic: str | None = getattr(props, "ResponseTopic", None)
        self.correlation: bytes | None = getattr(props, "CorrelationData", None)
        self.user: dict[str, str] = dict(getattr(props, "UserProperty", None) or [])


def properties(
    *,
    content_type: str | None = None,
    expiry: int | None = None,
    response_topic: str | None = None,
    correlation: bytes | None = None,
    user: dict[str, str] | None = None,
) -> Any:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if content_type:
        props.ContentType = content_type
    if expiry is not None:
        props.MessageExpiryInterval = expiry
    if response_topic:
        props.ResponseTopic = response_topic
    if correlation is not None:
        props.CorrelationData = correlation
    if user:
        props.UserProperty = list(user.items())
    return props


class MqttLink:
    """A connection that keeps itself up: ``start()``, ``publish(...)``, ``close()``."""

    def __init__(
        self,
        options: FleetOptions,
        *,
        client_id: str,
        subscriptions: list[tuple[str, int]],
        on_message: Callable[[Incoming], None],
        will: tuple[str, bytes] | None = None,
        on_connect: Callable[[], None] | None = None,
        on_disconnect: Callable[[], None] | None = None,
    ) -> None:
        if _paho is None:
            raise ConfigError(INSTALL_HINT)
        self.options = options
        self.client_id = client_id
        self.subscriptions = list(subscriptions)
        self._on_message = on_message
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self.connected = threading.Event()
        self.connects = 0  #: connections made (1 + reconnects)
        self.refused: str = ""  #: why the broker refused the last connection attempt
        client = _paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
        )
        client.max_queued_messages_set(MAX_QUEUED)
        client.reconnect_delay_set(min_delay=0.2, max_delay=2)  # type: ignore[arg-type]
        if options.username:
            client.username_pw_set(options.username, options.password)
        if options.tls:
            try:
                context = ssl.create_default_context(cafile=options.ca)
                if options.cert:
                    context.load_cert_chain(options.cert, options.key)
            except (OSError, ssl.SSLError) as err:
                raise ConfigError(f"fleet TLS files: {err}") from err
            client.tls_set_context(context)
        if will is not None:
            client.will_set(will[0], will[1], qos=1, retain=True,
                            properties=properties(content_type=JSON))  # fmt: skip
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_message = self._message
        self.client = client

    @staticmethod
    def new_id(kind: str) -> str:
        return f"{kind}-{uuid.uuid4().hex[:12]}"

    def start(self) -> None:
        """Connect in the background (retrying until the broker answers)."""
        self.client.connect_async(
            self.options.host, self.options.port, keepalive=self.options.keepalive,
            clean_start=True,
        )  # fmt: skip
        self.client.loop_start()

    def wait(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def _connected(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self.refused = str(reason)
            log.warning("broker %s refused the connection: %s", self.options.url, reason)
            return
        self.refused = ""
        self.connects += 1
        if self.subscriptions:
            client.subscribe(self.subscriptions)
        self.connected.set()
        log.info("connected to %s as %s", self.options.url, self.client_id)
        if self._on_connect is not None:
            try:
                self._on_connect()
            except Exception:
                log.exception("on_connect of %s failed", self.client_id)

    def _disconnected(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        if was:
            log.warning("lost the broker %s: %s", self.options.url, reason)
            if self._on_disconnect is not None:
                try:
                    self._on_disconnect()
                except Exception:
                    log.exception("on_disconnect of %s failed", self.client_id)

    def _message(self, client: Any, userdata: Any, message: Any) -> None:
        try:
            self._on_message(Incoming(message))
        except Exception:
            log.exception("handling %s failed", message.topic)

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 0, retain: bool = False, **props: Any
    ) -> None:
        """Send now; BackendUnavailable when the broker is not connected (nothing is queued
        for later but QoS 1 messages already handed to the socket)."""
        if not self.connected.is_set():
            raise BackendUnavailable(f"the broker {self.options.url} is not connected")
        info = self.client.publish(topic, payload, qos=qos, retain=retain,
                                   properties=properties(**props))  # fmt: skip
        if info.rc != 0:
            raise BackendUnavailable(f"cannot publish to {self.options.url}: "
                                     f"{_paho.error_string(info.rc)}")  # fmt: skip

    def close(self, last: tuple[str, bytes] | None = None) -> None:
        """Disconnect (after ``last`` = (topic, payload), retained, e.g. an offline status)."""
        if last is not None and self.connected.is_set():
            try:
                info = self.client.publish(last[0], last[1], qos=1, retain=True,
                                           properties=properties(content_type=JSON))  # fmt: skip
                info.wait_for_publish(timeout=1.0)
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self.client.loop_stop()
        self.connected.clear()
