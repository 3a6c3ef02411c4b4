"""The robot side's top: framework-free (no Flask, no Tornado), the one way to the robot.

- :class:`Robot`: owns the backend, hub, control, policy, audit, camera encoders;
  ``robot.bind(caller)`` gives a :class:`GuardedRobot`, ``robot.local`` the app's own.
- :class:`Caller`, :data:`LOCAL`, :class:`Policy`: who calls and what they may see and do.
- :class:`Subscription`: a caller's subscription (callback or iterator).
- :mod:`rosweb.core.bridge`: the rosbridge v2 protocol, frames in and frames out.
"""

from rosweb.core.audit import Audit
from rosweb.core.guard import GuardedRobot
from rosweb.core.policy import LOCAL, ROLES, Caller, Policy
from rosweb.core.robot import Robot
from rosweb.core.subscription import Subscription

__all__ = [
    "LOCAL",
    "ROLES",
    "Audit",
    "Caller",
    "GuardedRobot",
    "Policy",
    "Robot",
    "Subscription",
]
