"""What the web side may ask of a fleet (``mqtt://`` backend), as plain values.

The fleet server's control (:class:`rosweb.control.fleet.FleetControl`, on the ``mqtt://``
backend) implements :class:`FleetPort`; the web side reaches it through ``Robot.fleet`` and never
imports the backend. The guard of the fleet server checks the
person's role and names first; each robot checks again with its own guard.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from rosweb.messages import Message

__all__ = ["FleetPort", "RobotPort"]


class RobotPort(Protocol):
    """One robot of the fleet, on behalf of a person (``user``, ``role``, ``client``)."""

    name: str

    def card(self) -> dict[str, Any]:
        """Online, since, pose, battery, camera topic, who drives, e-stop (for the fleet page)."""

    def info(self) -> dict[str, Any]:
        """The robot's teleop settings, its topic names in the fleet's namespace."""

    def state(self) -> dict[str, Any]:
        """The robot's control state: lease holder, e-stop, moving."""

    def command(self, name: str, speed: float, *, user: str, role: str, client: str,
                max_linear: float | None = None,
                max_angular: float | None = None) -> Message: ...  # fmt: skip

    def acquire(self, *, user: str, role: str, client: str, force: bool) -> dict[str, Any]: ...

    def release(self, *, user: str, role: str, client: str, force: bool) -> bool: ...

    def engage_estop(self, *, user: str, role: str, client: str) -> dict[str, Any]: ...

    def clear_estop(self, *, user: str, role: str, client: str) -> dict[str, Any]: ...


@runtime_checkable
class FleetPort(Protocol):
    """The robots a fleet server sees through its broker."""

    def names(self) -> list[str]:
        """Every robot seen (online or not), sorted."""

    def robot(self, name: str) -> RobotPort:
        """One robot; NotFoundError if the fleet never saw it."""

    def cards(self) -> list[dict[str, Any]]:
        """:meth:`RobotPort.card` of every robot."""
