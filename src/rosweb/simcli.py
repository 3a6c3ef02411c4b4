"""``rosweb sim --ros2``: the simulated robot as a ROS 2 node over Zenoh, in its own process.

With ``rosweb run --backend ros2://`` (or a ROS 2 tool on rmw_zenoh) on the same router, that is
a whole ROS 2 session with pip alone.
"""

from __future__ import annotations

import logging
import signal
import threading

import click

__all__ = ["register"]


@click.command()
@click.option("--ros2", "ros2", is_flag=True, help="Run the robot as a ROS 2 node (rmw_zenoh).")
@click.option("--url", default="ros2://", show_default=True,
              help="ros2:// URL of the robot's node: router, domain, distro "
                   "(e.g. 'ros2://?router=embedded' to start the router here).")  # fmt: skip
@click.option("--stamped", is_flag=True,
              help="Take geometry_msgs/msg/TwistStamped on /cmd_vel (Nav2 on Jazzy).")  # fmt: skip
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))  # fmt: skip
def sim(ros2: bool, url: str, stamped: bool, log_level: str) -> None:
    """Run the simulated robot on its own, as a node of a real middleware (until Ctrl-C)."""
    if not ros2:
        raise click.UsageError("rosweb sim needs --ros2 (the in-process sim is `rosweb run`)")
    if not url.startswith("ros2://"):
        raise click.BadParameter("expects a ros2:// URL", param_hint="--url")
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from rosweb.graph.ros2.sim import start_sim

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    graph, robot = start_sim(url, stamped=stamped)
    try:
        health = graph.health()
        click.echo(f"rosweb sim: ROS 2 node {graph.node_name} on {health['router']} "
                   f"({health['router_mode']}, domain {health['domain']}, "
                   f"{graph.options.distro})", err=True)  # fmt: skip
        stop.wait()
    finally:
        robot.close()
        graph.close()
    click.echo("rosweb sim: stopped", err=True)


def register(group: click.Group) -> None:
    group.add_command(sim)
