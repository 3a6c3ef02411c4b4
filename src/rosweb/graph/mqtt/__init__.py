"""The fleet backend: every robot behind an MQTT broker, each under its own namespace.

``mqtt://broker:1883`` or ``mqtts://broker:8883`` (TLS); see :mod:`rosweb.graph.mqtt.graph` and
README, *Fleets over MQTT*. Needs paho-mqtt (``pip install 'rosweb[mqtt]'``).
"""

from rosweb.graph.mqtt.control import FleetControl, RobotControl
from rosweb.graph.mqtt.graph import FleetGraph

__all__ = ["FleetControl", "FleetGraph", "RobotControl"]
