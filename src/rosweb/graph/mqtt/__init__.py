"""The fleet backend: every robot behind an MQTT broker, each under its own namespace.

``mqtt://broker:1883`` or ``mqtts://broker:8883`` (TLS); see :mod:`rosweb.graph.mqtt.graph` and
README, *Fleets over MQTT*. The topic contract (:mod:`~rosweb.graph.mqtt.contract`) and the MQTT 5
connection (:mod:`~rosweb.graph.mqtt.link`) are shared with the robot's bridge
(:mod:`rosweb.fleet`). Needs paho-mqtt (``pip install 'rosweb[mqtt]'``).
"""

from rosweb.graph.mqtt.graph import FleetGraph

__all__ = ["FleetGraph"]
