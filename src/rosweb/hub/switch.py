"""The GIL switch interval of ``rosweb run``'s processes (the single process, or each of its
``--workers``; the agent sets its own, :data:`rosweb.agent.agent.SWITCH_INTERVAL`).

Such a process has a middleware thread handing messages to the web server's event loop: rospy's
receive threads, the simulator or the agent's link fill the hub's queues, and the loop writes
them to the clients. A busy producing thread keeps the GIL until the switch interval forces it
out (Python's default: 5 ms), and the loop waits that long each time it let the GIL go. Past the
point where the producer alone fills a core, the loop got less and less of it: one process
with 400 rosbridge clients of a 1 kHz topic delivered 53k messages a second at 5 ms, 137k at
2 ms, 175k at 1 ms (bench/README.md). At robot rates, below that point, 2 ms changes nothing
measurable, where 1 ms made the round trip's p99 a tenth to a third longer. A program that
embeds rosweb (``RosWeb(app)``, its own server) keeps its own setting.
"""

from __future__ import annotations

import sys

__all__ = ["SWITCH_INTERVAL", "tune_process"]

#: seconds; Python's default is 0.005
SWITCH_INTERVAL = 0.002


def tune_process(interval: float = SWITCH_INTERVAL) -> None:
    """Set this process's GIL switch interval (seconds; :data:`SWITCH_INTERVAL` unless told)."""
    sys.setswitchinterval(interval)
