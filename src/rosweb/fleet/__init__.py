"""Fleets over MQTT: robots connect out to a broker, one rosweb shows and drives them all.

- :mod:`rosweb.fleet.contract`: the topic layout and payloads (the stable contract, no I/O).
- :mod:`rosweb.fleet.robot_bridge`: the robot's side (``rosweb run --fleet mqtt://...``).
- :class:`FleetPort`: what the fleet server's web side asks of the ``mqtt://`` backend
  (:mod:`rosweb.graph.mqtt`).

paho-mqtt is an optional dependency (``pip install 'rosweb[mqtt]'``); without it the bridge and
the backend fail with that hint.
"""

from rosweb.fleet.contract import FleetOptions, Layout
from rosweb.fleet.port import FleetPort, RobotPort

__all__ = ["FleetOptions", "FleetPort", "Layout", "RobotPort"]
