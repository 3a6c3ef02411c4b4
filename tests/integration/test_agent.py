"""The agent and agent:// over real sockets: faults, shared subscriptions, types, shared state.

Each test runs a real ``rosweb agent`` process (or an in-process Agent where the test needs to
reach into it) and connects ``agent://`` graphs to it, as web workers do.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import AgentProcess, Inbox, wait_for
from rosweb.agent import Agent, RpcServer, current_peer
from rosweb.errors import BackendUnavailable, ConfigError, GraphError, NotFoundError
from rosweb.graph import Graph, connect
from rosweb.graph.remote import AgentGraph, RpcClient

pytestmark = pytest.mark.integration


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    process = AgentProcess("sim://?robot=0", tmp_path).start()
    yield process
    process.kill()


@pytest.fixture
def graphs() -> Iterator[list[Graph]]:
    made: list[Graph] = []
    yield made
    for graph in made:
        graph.close()


def close_all(graphs: list[Graph]) -> None:
    """Close the test's graphs now (before the agent it runs in-process stops)."""
    for graph in graphs:
        graph.close()
    graphs.clear()


def join(graphs: list[Graph], url: str) -> Graph:
    graph = connect(url)
    graphs.append(graph)
    return graph


def publish_until(graph: Graph, topic: str, inbox: Inbox, data: str = "hi") -> None:
    def attempt() -> bool:
        graph.publish(topic, "std_msgs/String", {"data": data})
        return any(m["data"] == data for m in list(inbox.items))

    wait_for(attempt, timeout=10)


def test_workers_share_one_backend_subscription_per_topic(
    agent: AgentProcess, graphs: list[Graph]
) -> None:
    one, two, watcher = (join(graphs, agent.url) for _ in range(3))
    inbox_one, inbox_two = Inbox(), Inbox()
    first = one.subscribe("/shared", inbox_one, "std_msgs/String")
    second = two.subscribe("/shared", inbox_two, "std_msgs/String")
    wait_for(lambda: watcher.health()["agent"]["subscriptions"].get("/shared") == 2)
    publish_until(watcher, "/shared", inbox_one)
    wait_for(lambda: len(inbox_two) > 0)
    first.close()
    wait_for(lambda: watcher.health()["agent"]["subscriptions"].get("/shared") == 1)
    second.close()
    # the last one out drops the backend subscription
    wait_for(lambda: "/shared" not in watcher.health()["agent"]["subscriptions"])


def test_a_latched_message_reaches_a_second_worker(
    agent: AgentProcess, graphs: list[Graph]
) -> None:
    one, two = join(graphs, agent.url), join(graphs, agent.url)
    one.publish("/map_ready", "std_msgs/String", {"data": "map"}, latch=True)
    first, second = Inbox(), Inbox()
    with one.subscribe("/map_ready", first, "std_msgs/String"):
        wait_for(lambda: len(first) > 0)
        with two.subscribe("/map_ready", second, "std_msgs/String"):
            wait_for(lambda: len(second) > 0)
    assert second.items == [{"data": "map"}]
    assert first.items == [{"data": "map"}]  # the second subscription replays nothing here


def test_agent_restart_restores_subscriptions_publishers_and_services(
    agent: AgentProcess, graphs: list[Graph]
) -> None:
    worker = join(graphs, agent.url + "?timeout=3")
    inbox = Inbox()
    worker.subscribe("/chatter", inbox, "std_msgs/String")
    worker.advertise("/announce", "std_msgs/Int32")
    worker.provide_service("/worker/ping", "std_srvs/Trigger", lambda req: {"success": True})
    agent.kill()
    wait_for(lambda: worker.health()["ok"] is False)
    with pytest.raises(BackendUnavailable):
        worker.topics()
    with pytest.raises(BackendUnavailable):
        worker.publish("/chatter", "std_msgs/String", {"data": "lost"})
    agent.start()  # a new agent on the same address: a new bus, knowing nothing of the worker
    wait_for(lambda: worker.health()["ok"] is True, timeout=15)
    other = join(graphs, agent.url)
    assert other.topics().get("/announce") == "std_msgs/Int32"
    assert other.call_service("/worker/ping", {}, timeout=5) == {"success": True, "message": ""}
    publish_until(other, "/chatter", inbox, "back")
    assert worker.health()["agent"]["sessions"] == 2


def test_a_crashed_worker_is_forgotten(
    agent: AgentProcess, graphs: list[Graph], tmp_path: Path
) -> None:
    script = tmp_path / "worker.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import time
            from rosweb.graph import connect
            graph = connect({agent.url!r})
            graph.subscribe("/crash_topic", lambda msg: None, "std_msgs/String")
            graph.provide_service("/crash_service", "std_srvs/Empty", lambda req: {{}})
            print("READY", flush=True)
            time.sleep(60)
            """
        )
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY"
        watcher = join(graphs, agent.url)
        assert "/crash_service" in watcher.services()
        assert watcher.health()["agent"]["subscriptions"] == {"/crash_topic": 1}
        os.killpg(proc.pid, signal.SIGKILL)  # no goodbye: the agent notices the silence
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    wait_for(lambda: "/crash_service" not in watcher.services(), timeout=15)
    assert watcher.health()["agent"]["subscriptions"] == {}
    assert "/crash_topic" not in watcher.topics()
    assert watcher.health()["ok"] is True


def test_stopped_agent_exits_cleanly(agent: AgentProcess) -> None:
    assert agent.stop() == 0
    assert not agent.path.exists()


def test_types_the_agent_knows_reach_the_worker(tmp_path: Path, graphs: list[Graph]) -> None:
    with Agent.from_url("sim://?robot=0", f"ipc://{tmp_path}/a.sock") as node:
        node.graph.types.register_msg("my_robot/Gripper", "float64 width\nbool closed\n")
        node.graph.types.register_srv("my_robot/Grip", "float64 width\n---\nbool ok\n")
        worker = join(graphs, f"agent://ipc://{tmp_path}/a.sock")
        assert worker.types.has_message("my_robot/Gripper")
        assert [f.name for f in worker.types.fields("my_robot/Gripper")] == ["width", "closed"]
        assert worker.types.service("my_robot/Grip").request == "my_robot/GripRequest"
        assert "my_robot/Gripper" in worker.types.message_types()
        assert not worker.types.has_message("my_robot/Nothing")
        inbox = Inbox()
        with worker.subscribe("/gripper", inbox, "my_robot/Gripper"):

            def attempt() -> bool:
                worker.publish("/gripper", "my_robot/Gripper", {"width": 0.5, "closed": True})
                return len(inbox) > 0

            wait_for(attempt)
        assert inbox.items[0] == {"width": 0.5, "closed": True}
        graphs.pop().close()


class Counter:
    """A stand-in for shared state (the control lease): one value for every worker."""

    def __init__(self) -> None:
        self.value = 0
        self.callers: set[bytes] = set()

    def add(self, amount: int) -> int:
        self.callers.add(current_peer())
        self.value += amount
        return self.value

    def reset(self) -> None:
        self.value = 0


def test_an_object_the_agent_serves_is_one_for_every_worker(
    tmp_path: Path, graphs: list[Graph]
) -> None:
    url = f"agent://ipc://{tmp_path}/a.sock"
    with Agent.from_url("sim://?robot=0", f"ipc://{tmp_path}/a.sock") as node:
        counter = Counter()
        node.serve("counter", counter, {"add"})
        one, two = join(graphs, url), join(graphs, url)
        assert isinstance(one, AgentGraph)
        assert isinstance(two, AgentGraph)
        assert {"graph", "control", "counter"} <= set(one.link.objects)
        first, second = one.link.proxy("counter"), two.link.proxy("counter")
        assert first.add(2) == 2
        assert second.add(3) == 5
        assert counter.value == 5
        assert len(counter.callers) == 2
        assert "nothing" not in one.link.objects
        with pytest.raises(AttributeError):
            first.reset  # noqa: B018  # not in the allow-list
        close_all(graphs)


def test_rpc_refuses_methods_outside_the_allow_list(tmp_path: Path) -> None:
    server = RpcServer(f"ipc://{tmp_path}/rpc.sock")
    counter = Counter()
    server.serve("counter", counter, {"add"})
    server.start()
    client = RpcClient(f"ipc://{tmp_path}/rpc.sock")
    try:
        assert client.wait_ready(10)
        assert client.call("counter", "add", 4) == 4
        with pytest.raises(GraphError, match=r"does not serve counter\.reset"):
            client.call("counter", "reset")
        with pytest.raises(GraphError, match="serves no object"):
            client.call("nothing", "add", 1)
        with pytest.raises(GraphError):
            client.call("counter", "add", "four")  # TypeError there, a GraphError here
        with pytest.raises(ValueError, match="not public methods"):
            server.serve("bad", counter, {"_private"})
    finally:
        client.close()
        server.close()
    assert counter.value == 4


def test_errors_keep_their_class(agent: AgentProcess, graphs: list[Graph]) -> None:
    worker = join(graphs, agent.url)
    with pytest.raises(NotFoundError) as info:
        worker.get_param("/no/such/param")
    assert info.value.kind == "param"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("agent://", "needs the agent's address"),
        ("agent://ftp://x", "bad agent address"),
        ("agent://ipc:///tmp/x.sock?speed=1", "no option 'speed'"),
        ("agent://ipc:///tmp/x.sock?timeout=soon", "expects seconds"),
    ],
)
def test_bad_agent_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        connect(url)


def test_no_agent_is_backend_unavailable_not_a_hang(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="no agent answers"):
        connect(f"agent://ipc://{tmp_path}/nobody.sock?wait=0.5")


def test_agent_refuses_to_listen_beyond_loopback(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="loopback"):
        Agent.from_url("sim://?robot=0", "tcp://0.0.0.0:5555")
    with pytest.raises(ConfigError, match="another agent"):
        Agent.from_url(f"agent://ipc://{tmp_path}/x.sock", f"ipc://{tmp_path}/y.sock")


def test_agent_cli_bad_backend_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "rosweb"), "agent", "--backend", "nope://",
         "--listen", f"ipc://{tmp_path}/a.sock"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 1
    assert "unknown backend 'nope://'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_burst_reaches_every_worker_whole_and_in_order(
    tmp_path: Path, graphs: list[Graph]
) -> None:
    """Stream items travel batched: a burst faster than one send per message, with a camera
    frame in the middle (it goes alone), arrives complete and in order at each worker."""
    url = f"agent://ipc://{tmp_path}/a.sock"
    with Agent.from_url("sim://?robot=0", f"ipc://{tmp_path}/a.sock") as node:
        inboxes = [Inbox(), Inbox()]
        frames = Inbox()
        for inbox in inboxes:
            worker = join(graphs, url)
            worker.subscribe("/burst", inbox, "std_msgs/String")
            worker.subscribe("/frame", frames, "sensor_msgs/Image")
        wait_for(lambda: node.graph_service.health()["agent"]["subscriptions"].get("/frame") == 2)
        pixels = bytes(range(256)) * 3600  # 900 KiB: more than a batch holds
        for i in range(3000):
            node.graph.publish("/burst", "std_msgs/String", {"data": str(i)})
            if i == 1500:
                node.graph.publish("/frame", "sensor_msgs/Image",
                                   {"width": 320, "height": 960, "encoding": "rgb8",
                                    "step": 960, "data": pixels})  # fmt: skip
        for inbox in inboxes:
            wait_for(lambda inbox=inbox: len(inbox.items) == 3000, timeout=10)
            assert [m["data"] for m in inbox.items] == [str(i) for i in range(3000)]
        wait_for(lambda: len(frames.items) == 2)
        assert all(bytes(m["data"]) == pixels for m in frames.items)
        assert node.server.data_dropped == 0
        close_all(graphs)


def test_a_flood_of_topic_data_does_not_hold_a_worker_up(
    tmp_path: Path, graphs: list[Graph]
) -> None:
    """A topic published inside the agent as fast as it can go, for longer than the agent waits
    for a silent worker: the worker's calls are still answered and its session lives on."""
    url = f"agent://ipc://{tmp_path}/a.sock"
    with Agent.from_url("sim://?robot=0", f"ipc://{tmp_path}/a.sock") as node:
        worker = join(graphs, url)
        assert isinstance(worker, AgentGraph)
        got = Inbox()
        worker.subscribe("/flood", got, "std_msgs/String")
        worker.set_param("/flood/x", 1)
        stop = time.monotonic() + 4.5  # more than SESSION_TIMEOUT (3 s)

        def flood() -> None:
            while time.monotonic() < stop:
                node.graph.publish("/flood", "std_msgs/String", {"data": "x" * 100})

        thread = threading.Thread(target=flood, daemon=True)
        thread.start()
        answered = 0
        while thread.is_alive():
            assert worker.get_param("/flood/x") == 1
            answered += 1
            time.sleep(0.05)
        thread.join()
        assert answered > 20
        assert len(got) > 10000
        assert worker.link.sessions == 1  # never forgotten, never started again
        close_all(graphs)


# -- calls from the caller's thread (rosweb.graph.remote.calls) ----------------------------------


def test_calls_from_many_threads_each_get_their_own_answer(
    agent: AgentProcess, graphs: list[Graph]
) -> None:
    """More threads at once than a worker keeps call sockets (CALL_SOCKETS): each call gets its
    own reply, whether on a socket of its own or through the worker's I/O thread."""
    worker = join(graphs, agent.url)
    for i in range(40):
        worker.set_param(f"/many/p{i}", i)
    wrong: list[str] = []

    def ask(i: int) -> None:
        for _ in range(25):
            value = worker.get_param(f"/many/p{i}")
            if value != i:
                wrong.append(f"/many/p{i} -> {value!r}")

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert wrong == []


def test_a_reply_after_its_timeout_is_not_taken_for_the_next_call(
    agent: AgentProcess, graphs: list[Graph]
) -> None:
    """A call that timed out leaves its late reply on its socket: the next calls made there
    skip it and get their own."""
    server = join(graphs, agent.url)

    def slow(request: dict[str, object]) -> dict[str, object]:
        time.sleep(0.6)
        return {}

    server.provide_service("/slow", "std_srvs/Trigger", slow)
    worker = join(graphs, agent.url)
    assert isinstance(worker, AgentGraph)
    worker.set_param("/late/value", 7)
    with pytest.raises(BackendUnavailable, match="did not answer"):  # the agent waits 5 s for
        worker.link.call("graph", "call_service", "/slow", {}, 5.0, timeout=0.2)  # the service
    deadline = time.monotonic() + 1.5  # the late reply arrives meanwhile
    while time.monotonic() < deadline:
        assert worker.get_param("/late/value") == 7


def test_a_waiting_call_fails_at_once_when_the_agent_is_killed(
    agent: AgentProcess, graphs: list[Graph]
) -> None:
    """A call waiting for a slow service learns the agent is gone from the worker's heartbeat
    (DEAD_AFTER) instead of waiting its whole timeout."""
    server = join(graphs, agent.url)

    def stuck(request: dict[str, object]) -> dict[str, object]:
        time.sleep(30)
        return {}

    server.provide_service("/stuck", "std_srvs/Trigger", stuck)
    worker = join(graphs, agent.url + "?timeout=30")
    failed: list[tuple[float, BaseException]] = []

    def call() -> None:
        try:
            worker.call_service("/stuck", {}, timeout=30)
        except BaseException as err:  # recorded for the assertion
            failed.append((time.monotonic(), err))

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.5)
    killed = time.monotonic()
    agent.kill()
    thread.join(20)
    assert failed, "the call still waits"
    when, err = failed[0]
    assert isinstance(err, BackendUnavailable)
    assert when - killed < 5.0  # DEAD_AFTER (1.5 s) and a heartbeat, not the call's 30 s
