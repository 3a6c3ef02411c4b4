"""The agent's camera inputs and compressed siblings: under ``rosweb run --workers N`` they run
once, in the process with the node, and every worker sees their topics through ``agent://``.

:func:`start_video` starts what ``ROSWEB_INPUTS`` and ``ROSWEB_COMPRESSED_TOPICS`` ask for on the
agent's graph (a bad source stops the agent with one line, as it stops ``rosweb run``), and the
agent's health report carries theirs under ``agent.video``, which each worker's
``/api/health`` shows as its ``video`` section.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from rosweb import config
from rosweb.control.core import Control
from rosweb.core.robot import Robot
from rosweb.core.video import missing
from rosweb.core.video.robot import advertiser, publisher, subscriber
from rosweb.errors import ConfigError
from rosweb.graph import Graph

__all__ = ["AgentVideo", "start_video"]

log = logging.getLogger(__name__)


class AgentVideo:
    """The inputs and compressed siblings one agent runs, through a Robot of its own around the
    agent's graph and control (its trusted ``local``: the guard's validation, command-topic rule
    and audit, as in one process); ``close()`` stops them."""

    def __init__(self, robot: Robot) -> None:
        self.robot = robot
        self.inputs: Any = None  # rosweb.core.video.inputs.Inputs
        self.compressor: Any = None  # rosweb.core.video.compressed.Compressor

    def health(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs.health() if self.inputs else [],
            "compressed": self.compressor.health() if self.compressor else [],
        }

    def close(self) -> None:
        for part in (self.compressor, self.inputs, self.robot):
            if part is not None:
                try:
                    part.close()
                except Exception:
                    log.exception("agent: closing video failed")
        self.inputs = self.compressor = None


def start_video(graph: Graph, control: Control, settings: Mapping[str, Any]) -> AgentVideo | None:
    """Start the inputs and compressed siblings of ``settings`` (None when there are none);
    ConfigError, one line, for a source that cannot be opened or a missing ``video`` extra."""
    cfg = {**config.DEFAULTS, **settings}
    specs, compressed = cfg["ROSWEB_INPUTS"], cfg["ROSWEB_COMPRESSED_TOPICS"]
    if not specs and not compressed:
        return None
    absent = missing()
    if absent:
        raise ConfigError(absent)
    from rosweb.core.video.compressed import Compressor
    from rosweb.core.video.inputs import Inputs, parse_input

    for index, text in enumerate(specs):
        topic = parse_input(text, index).topic
        if control.is_command_topic(topic):
            raise ConfigError(f"--input {text}: {topic} is a command topic (only Twist goes there)")
    # the workers cache what they serve: this robot keeps nothing of its own
    robot = Robot(graph, settings={**cfg, "ROSWEB_CACHE_TOPICS": ""}, control=control,
                  owns_graph=False)  # fmt: skip
    video = AgentVideo(robot)
    local = robot.local
    try:
        if specs:
            video.inputs = Inputs(specs, publisher(local), advertise=advertiser(local))
            video.inputs.start()
        if compressed:
            video.compressor = Compressor(
                compressed, subscriber(local), publisher(local),
                quality=cfg["ROSWEB_COMPRESSED_QUALITY"],
            )  # fmt: skip
            video.compressor.start()
    except BaseException:
        video.close()
        raise
    return video
