"""The ROS 1 backend (``ros1://``): rosweb as one rospy node. Importing it needs no rospy;
making a :class:`Ros1Graph` finds rospy or fails with an install hint."""

from rosweb.graph.ros1.graph import Ros1Graph

__all__ = ["Ros1Graph"]
