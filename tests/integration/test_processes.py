"""rosweb as users start it: `rosweb run`, `flask run` (with and without the reloader), the CLI."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from helpers import LiveServer, wait_for

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api_up(url: str) -> bool:
    try:
        return requests.get(url + "/api/topics", timeout=1).status_code == 200
    except requests.RequestException:  # refused, or accepted before the app is ready to answer
        return False


def clean_env() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ROSWEB_", "FLASK_", "WERKZEUG_"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start(processes: list[subprocess.Popen[str]], args: list[str], cwd: Path | None = None,
          env: dict[str, str] | None = None) -> subprocess.Popen[str]:  # fmt: skip
    proc = subprocess.Popen(
        args, cwd=cwd, env=env or clean_env(), text=True, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    processes.append(proc)
    return proc


def test_rosweb_run_serves_and_stops_cleanly(processes: list[subprocess.Popen[str]]) -> None:
    port = free_port()
    proc = start(processes, [str(BIN / "rosweb"), "run", "--port", str(port)])
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: api_up(url), timeout=20)
    reply = requests.post(url + "/api/teleop", json={"command": "forward"}, timeout=5)
    assert reply.status_code == 200
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, output
    assert f"serving at {url}" in output
    assert "Traceback" not in output


def test_rosweb_run_reads_a_config_file(
    processes: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    port = free_port()
    config = tmp_path / "robot.toml"
    config.write_text(f"port = {port}\n[teleop]\nlinear_speed = 0.25\n")
    start(processes, [str(BIN / "rosweb"), "run", "--config", str(config)])
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: api_up(url), timeout=20)
    assert requests.get(url + "/api/teleop", timeout=5).json()["linear_speed"] == 0.25


def test_rosweb_run_bad_settings_exit_1_with_one_line(tmp_path: Path) -> None:
    env = clean_env() | {"ROSWEB_TELEOP_TIMEOUT": "soon"}
    result = subprocess.run(
        [str(BIN / "rosweb"), "run"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip() == "rosweb: error: ROSWEB_TELEOP_TIMEOUT: expects float, got 'soon'"
    )
    result = subprocess.run([str(BIN / "rosweb"), "run", "--backend", "nope://"], env=clean_env(),
                            capture_output=True, text=True, timeout=30)  # fmt: skip
    assert result.returncode == 1
    assert "unknown backend 'nope://'" in result.stderr
    assert "Traceback" not in result.stderr


def test_rosweb_run_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([str(BIN / "rosweb"), "run", "--port", str(port)], env=clean_env(),
                                capture_output=True, text=True, timeout=30)  # fmt: skip
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_flask_run_no_reload_serves_the_api(processes: list[subprocess.Popen[str]]) -> None:
    port = free_port()
    start(processes, [str(BIN / "flask"), "--app", "rosweb.web:create_app", "run", "--no-reload",
                      "--port", str(port)])  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: api_up(url), timeout=20)
    before = requests.get(url + "/api/topics/odom", timeout=5).json()["msg"]["pose"]["pose"][
        "position"
    ]["x"]
    requests.post(url + "/api/teleop", json={"command": "forward"}, timeout=5)
    wait_for(
        lambda: (
            requests.get(url + "/api/topics/odom", timeout=5).json()["msg"]["pose"]["pose"][
                "position"
            ]["x"]
            > before
        )
    )


def test_flask_reloader_starts_exactly_one_node(
    processes: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    (tmp_path / "robot_app.py").write_text(
        "import os\n"
        "from rosweb.web import create_app\n"
        "app = create_app()\n"
        "print('NODE', os.getpid(), app.extensions['rosweb'] is not None, flush=True)\n"
    )
    port = free_port()
    args = [str(BIN / "flask"), "--app", "robot_app", "run", "--reload", "--port", str(port)]
    proc = start(processes, args, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: api_up(url), timeout=20)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGTERM)
    output, _ = proc.communicate(timeout=15)
    nodes = [line.split() for line in output.splitlines() if line.startswith("NODE ")]
    assert len(nodes) == 2, output  # the watcher and the serving child both import the app...
    assert sorted(started for _, _, started in nodes) == ["False", "True"], (
        output
    )  # ...one runs a node
    assert len({pid for _, pid, _ in nodes}) == 2


def test_cli_topics_against_a_server(live_server: LiveServer) -> None:
    result = subprocess.run([str(BIN / "rosweb"), "topics", "-v", "--url", live_server.url],
                            capture_output=True, text=True, timeout=30)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "/odom [nav_msgs/Odometry]" in result.stdout.splitlines()
    assert "/cmd_vel [geometry_msgs/Twist]" in result.stdout.splitlines()


def test_cli_topics_unreachable_server_is_one_line() -> None:
    result = subprocess.run([str(BIN / "rosweb"), "topics", "--url", f"http://127.0.0.1:{free_port()}"],
                            capture_output=True, text=True, timeout=30)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("rosweb: error: cannot reach rosweb at")
    assert len(result.stderr.strip().splitlines()) == 1


def test_version() -> None:
    from rosweb import __version__

    result = subprocess.run(
        [str(BIN / "rosweb"), "--version"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"rosweb, version {__version__}"
