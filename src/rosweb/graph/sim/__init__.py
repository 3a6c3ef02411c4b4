"""The embedded default backend: an in-process bus with a simulated diff-drive robot on it.

``sim://`` gives the bus with the robot; ``sim://?robot=0`` the bare bus.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from rosweb.errors import ConfigError
from rosweb.graph.sim.bus import Bus
from rosweb.graph.sim.robot import PARAM_META, SimRobot

__all__ = ["Bus", "SimGraph", "SimRobot"]


class SimGraph(Bus):
    """The bus plus, unless disabled, the simulated robot running on it."""

    def __init__(self, url: str = "sim://") -> None:
        super().__init__(url=url)
        query = parse_qs(urlsplit(url).query)
        flag = query.get("robot", ["1"])[-1].lower()
        if flag not in ("0", "1", "true", "false", "yes", "no"):
            raise ConfigError(f"sim:// option robot={flag!r}: expects 1 or 0")
        self.robot: SimRobot | None = None
        if flag in ("1", "true", "yes"):
            self.robot = SimRobot(self)
            self.robot.start()

    def param_meta(self) -> dict[str, dict[str, Any]]:
        return PARAM_META if self.robot else {}

    def close(self) -> None:
        if self.robot is not None:
            self.robot.close()
        super().close()
