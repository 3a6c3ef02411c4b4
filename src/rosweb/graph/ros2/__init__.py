"""``ros2://``: a ROS 2 graph through rmw_zenoh's protocol over eclipse-zenoh (no ROS 2 install).

``Ros2Graph`` is the backend; ``Ros2SimRobot`` the simulated robot as a ROS 2 node
(``rosweb sim --ros2``).
"""

from rosweb.graph.ros2.graph import Ros2Graph

__all__ = ["Ros2Graph"]
