"""Fleets over MQTT, the robot's side: its Robot served to a broker (``rosweb run --fleet``).

- :class:`~rosweb.fleet.robot_bridge.RobotBridge`: connects out to the broker as one robot and
  serves its guarded Robot there (status, telemetry, commands, requests).
- The contract it speaks (topic layout, payloads, the MQTT 5 link) lives with the fleet backend
  in :mod:`rosweb.graph.mqtt` (``contract``, ``link``); the fleet server's control in
  :mod:`rosweb.control.fleet`; what the web side asks of a fleet in :mod:`rosweb.core.fleet`.

paho-mqtt is an optional dependency (``pip install 'rosweb[mqtt]'``); without it the bridge and
the backend fail with that hint.
"""

from rosweb.graph.mqtt.contract import FleetOptions, Layout

__all__ = ["FleetOptions", "Layout"]
