"""What moves the robot on a person's behalf: teleop, velocity limits, the deadman, the control
lease and the e-stop, behind one :class:`Control`."""

from rosweb.control.core import Control
from rosweb.control.lease import Lease, Operator
from rosweb.control.port import CONTROL_METHODS, ControlPort
from rosweb.control.teleop import (
    COMMANDS,
    TWIST,
    TWIST_STAMPED,
    Teleop,
    VelocityLimits,
    is_motion_type,
)

__all__ = [
    "COMMANDS",
    "CONTROL_METHODS",
    "TWIST",
    "TWIST_STAMPED",
    "Control",
    "ControlPort",
    "Lease",
    "Operator",
    "Teleop",
    "VelocityLimits",
    "is_motion_type",
]
