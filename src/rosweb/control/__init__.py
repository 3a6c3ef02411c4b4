"""What moves the robot on a person's behalf: teleop, velocity limits, the deadman."""

from rosweb.control.teleop import COMMANDS, TWIST, Teleop, VelocityLimits

__all__ = ["COMMANDS", "TWIST", "Teleop", "VelocityLimits"]
