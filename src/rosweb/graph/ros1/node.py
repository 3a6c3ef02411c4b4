"""Finding rospy, and the one rospy node of this process.

rospy allows one node per process, and it cannot start again once shut down; so the node is a
process-wide resource: started by the first ``ros1://`` graph, shared by later ones, shut down (and
unregistered from the master) when the process exits.
"""

from __future__ import annotations

import atexit
import importlib.machinery
import logging
import os
import socket
import sys
import threading
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

from rosweb.errors import ConfigError

__all__ = ["DRAIN", "import_rospy", "queue_without_yield", "read_what_waits", "start_node"]

log = logging.getLogger(__name__)

#: where ROS 1 Python packages live when PYTHONPATH does not say: Debian's python3-rospy
#: packages, then a ROS Noetic install.
ROS_PYTHON_PATHS = ("/usr/lib/python3/dist-packages", "/opt/ros/noetic/lib/python3/dist-packages")

#: what rospy and the ROS command-line modules import from those places
ROS_MODULES = frozenset(
    {
        "rospy", "rosgraph", "roslib", "rospkg", "catkin_pkg", "catkin", "genpy", "genmsg",
        "roscpp", "rosmaster", "rostopic", "rosservice", "rosparam", "rosnode", "rosmsg",
        "rosbag", "roslz4", "pyparsing", "defusedxml", "dateutil", "docutils", "yaml",
        "netifaces", "rosgraph_msgs", "std_msgs",
    }
)  # fmt: skip


class RosFinder:
    """Finds ROS modules and message packages (a folder with ``msg/`` or ``srv/``) in the ROS
    locations, and nothing else: Debian's other packages (an old Pillow, blinker...) never
    shadow the environment's. It sits last on ``sys.meta_path``, so installed modules win.
    """

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = [p for p in paths if os.path.isdir(p)]

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if "." in name:
            return None
        for base in self.paths:
            is_messages = any(os.path.isdir(os.path.join(base, name, k)) for k in ("msg", "srv"))
            if name in ROS_MODULES or is_messages:
                return importlib.machinery.PathFinder.find_spec(name, [base])
        return None


INSTALL_HINT = (
    "ros1:// needs rospy. On Debian: apt-get install python3-rospy python3-rosmaster "
    "python3-rosservice python3-geometry-msgs python3-sensor-msgs python3-nav-msgs "
    "python3-std-srvs; with a ROS install: source /opt/ros/<distro>/setup.bash"
)

LOG_CONFIG = "rospy_logging.yaml"

_lock = threading.Lock()
_node: tuple[str, str] | None = None  # (caller id, master URI) once started


def import_rospy() -> ModuleType:
    """rospy, found on sys.path or in the system's ROS locations; ConfigError with a hint."""
    try:
        _import_genpy_without_numpy()
        import rospy
    except ImportError:
        if not any(isinstance(f, RosFinder) for f in sys.meta_path):
            sys.meta_path.append(RosFinder(ROS_PYTHON_PATHS))
        try:
            _import_genpy_without_numpy()
            import rospy
        except ImportError as err:
            raise ConfigError(INSTALL_HINT) from err
    module: ModuleType = rospy
    return module


def _import_genpy_without_numpy() -> None:
    """Import genpy (rospy's message runtime) without loading numpy, when nothing has yet.

    ``genpy.message`` imports numpy only to list its scalar types among those its error
    diagnosis (``check_type``, run after a message failed to serialize) takes for a float, and
    goes on without it when the import fails; numpy is about 11 MB of the process (bench_idle:
    ros1:// idle RSS). Code that uses numpy imports it as usual afterwards; only that diagnosis
    then names a numpy scalar in a float field as the cause of an error it did not cause.
    """
    if "numpy" in sys.modules or "genpy" in sys.modules:
        return
    sys.modules["numpy"] = None  # type: ignore[assignment]  # "import numpy" raises ImportError
    try:
        import genpy  # noqa: F401
    finally:
        if "numpy" in sys.modules and sys.modules["numpy"] is None:
            del sys.modules["numpy"]


def queue_without_yield() -> None:
    """Make rospy's queued publishers hand a message to their connection's thread without a
    ``time.sleep(0)`` after each one.

    rospy (``tcpros_pubsub.QueuedConnection.write_data``) yields the rest of the thread's time
    after queueing every message, so each publish costs a GIL hand-off to the connection's
    thread, which then sends that one message alone: about 55 us a message, the most of
    publishing (bench/README.md). Without it the publishing thread goes on and the connection's
    thread sends what accumulated in one go, in order; the queue and its bound (drop the oldest
    past ``queue_size``) are rospy's own. rospy has no option for it: its publishers take the
    class from ``rospy.topics``, replaced here by a subclass (this process's node only; done
    once, before any publisher exists). Skipped when rospy's class is not the one this was
    written against."""
    from rospy import topics
    from rospy.impl.tcpros_pubsub import QueuedConnection

    if getattr(topics.QueuedConnection, "rosweb", False):
        return
    if topics.QueuedConnection is not QueuedConnection or not hasattr(QueuedConnection, "_run"):
        log.warning("rospy's QueuedConnection is not the expected one: publishing as it does")
        return

    class Queued(QueuedConnection):  # type: ignore[misc]
        rosweb = True

        def write_data(self, data: bytes) -> bool:
            with self._lock:
                error: BaseException | None = self._error  # type: ignore[has-type]
                if error is not None:  # an error of the connection's thread, raised as rospy does
                    self._error = None
                    raise error
                if self._queue_size > 0 and len(self._queue) == self._queue_size:
                    del self._queue[0]
                self._queue.append(data)
                self._cond_data_available.notify()
            return True

    topics.QueuedConnection = Queued


#: what one read of a subscription takes at most when data keeps waiting (bytes): rospy reads
#: :data:`~rosweb.graph.ros1.graph.RECEIVE` at a time, and keeps the newest ``queue_size``
#: messages of each read; past a full read, what already waits is read too, up to this
#: much, so that a backlog is dropped (cheaply: rospy skips the older messages' bytes before
#: deserializing) instead of delivered late
DRAIN = 4 << 20


def read_what_waits() -> None:
    """Make each read of rospy's subscriptions take what already waits in the socket (up to
    :data:`DRAIN` bytes), not one ``buff_size`` only.

    rospy (``tcpros_base.receive_once``) reads ``buff_size`` bytes, deserializes the newest
    ``queue_size`` messages of what it read and hands them to the callbacks; with a small
    ``buff_size`` (rosweb's 64 KiB: a big one costs a memory map per read), a subscriber that
    falls behind its publisher keeps that distance: the backlog waits in the sockets' buffers
    (megabytes), and every message arrives that late (a 10-client fan-out at the publisher's
    maximum rate: 0.3-0.5 s). Reading on while a read fills its buffer, without blocking, takes
    the backlog at once and rospy keeps its newest ``queue_size``, as it documents. A read that
    does not fill its buffer (a robot's usual traffic) is one ``recv``, as before. It applies to
    every subscriber of this process (your own rospy subscribers in a rosweb app too: one with
    ``queue_size=1`` gets the newest message without the usual advice of a big ``buff_size``);
    service calls read through their own reference to rospy's function: untouched."""
    from rospy.impl import tcpros_base

    original = tcpros_base.recv_buff
    if getattr(original, "rosweb", False):
        return
    dontwait = getattr(socket, "MSG_DONTWAIT", None)
    if dontwait is None:  # no non-blocking read on this platform: rospy's own
        return

    def recv_buff(sock: socket.socket, b: Any, buff_size: int) -> int:
        size = int(original(sock, b, buff_size))
        total = size
        while size == buff_size and total < DRAIN:
            try:
                d = sock.recv(buff_size, dontwait)
            except OSError:  # nothing more waits (EAGAIN), or the next read meets the error
                break
            if not d:
                break  # closed: the next read meets it
            b.write(d)
            size = len(d)
            total += size
        return total

    recv_buff.rosweb = True  # type: ignore[attr-defined]
    tcpros_base.recv_buff = recv_buff


def start_node(name: str, master_uri: str, *, anonymous: bool = False) -> str:
    """Start this process's node (once); returns its caller id.

    A second call with the same master reuses the node; another master is an error, since a
    process can only be one node.
    """
    global _node
    rospy = import_rospy()
    with _lock:
        if _node is not None:
            caller_id, uri = _node
            if uri != master_uri:
                raise ConfigError(
                    f"this process already runs ROS node {caller_id} on {uri}; "
                    f"one node per process, so it cannot join {master_uri}"
                )
            return caller_id
        os.environ["ROS_MASTER_URI"] = master_uri
        queue_without_yield()
        read_what_waits()
        failure: list[BaseException] = []

        # rospy's default logging config replaces the root handlers: ours only sets levels
        os.environ.setdefault(
            "ROS_PYTHON_LOG_CONFIG_FILE", os.path.join(os.path.dirname(__file__), LOG_CONFIG)
        )

        def init() -> None:  # rospy's threads start from here: the node's own thread
            try:
                rospy.init_node(
                    name.lstrip("/") or "rosweb",
                    argv=[],  # never take remappings from rosweb's own command line
                    anonymous=anonymous,
                    disable_signals=True,
                )
            except BaseException as err:
                failure.append(err)

        thread = threading.Thread(target=init, name="rosweb-ros1-init", daemon=True)
        thread.start()
        thread.join(timeout=30)
        if thread.is_alive():
            raise ConfigError(f"rospy.init_node did not return within 30 s (master {master_uri})")
        if failure:
            raise ConfigError(f"cannot start ROS node {name}: {failure[0]}") from failure[0]
        caller_id = rospy.get_name()
        _node = (caller_id, master_uri)
        atexit.register(rospy.signal_shutdown, "rosweb exits")
        log.info("ROS node %s joined the master at %s", caller_id, master_uri)
        return str(caller_id)
