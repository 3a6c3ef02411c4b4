"""Reloader-friendly state: under ``flask run --reload`` each reload starts a new robot node; the
``[params]`` table of the config gives parameters and properties their values again, while a
value changed at run time (and the simulated robot's pose) is lost."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from helpers import free_port, wait_for

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).parents[2] / "examples"
BIN = Path(sys.executable).parent


def uptime(url: str) -> float | None:
    try:
        return float(requests.get(url + "/api/health", timeout=1).json()["uptime"])
    except (requests.RequestException, ValueError, KeyError):
        return None


def test_a_reload_restores_the_params_table_and_forgets_the_rest(
    processes: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    app_dir = tmp_path / "panel"
    shutil.copytree(EXAMPLES / "panel", app_dir)
    config = tmp_path / "rosweb.toml"
    config.write_text('[params]\n"/panel/threshold" = 0.8\nrobot.max_linear_speed = 0.5\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROSWEB_", "FLASK_"))}
    env |= {"ROSWEB_CONFIG": str(config), "PYTHONUNBUFFERED": "1"}
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "flask"), "--app", str(app_dir / "app.py"), "run", "--reload", "--port",
         str(port)], env=env, text=True, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    processes.append(proc)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: uptime(url) is not None, timeout=30, interval=0.2)

    def param(name: str) -> object:
        return requests.get(f"{url}/api/params/{name}", timeout=5).json()

    assert param("panel/threshold") == 0.8  # the property's start value, from [params]
    assert param("robot/max_linear_speed") == 0.5
    assert requests.put(f"{url}/api/params/panel/threshold", json=1.5, timeout=5).ok
    assert requests.put(f"{url}/api/params/panel/mode", json="ahead", timeout=5).ok
    before = uptime(url)
    assert before is not None
    started = time.monotonic()
    edited = [0.0]  # when app.py was last edited

    def restarted() -> bool:
        """Edit app.py every 3 s until the reloader restarts the app (a reloader still on its
        first scan of the modules, slow on a loaded machine, takes an early edit as the start)."""
        if time.monotonic() > edited[0] + 3:
            time.sleep(1.1)  # a later mtime for the reloader's stat poll
            (app_dir / "app.py").write_text((app_dir / "app.py").read_text() + "\n# edited\n")
            edited[0] = time.monotonic()
        now = uptime(url)
        return now is not None and now + 1 < before + (time.monotonic() - started)  # a new one

    wait_for(restarted, timeout=40, interval=0.2)
    assert param("panel/threshold") == 0.8  # restored from [params]
    assert param("robot/max_linear_speed") == 0.5
    assert param("panel/mode") == "all"  # changed at run time, not in [params]: lost
