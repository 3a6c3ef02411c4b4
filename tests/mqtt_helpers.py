"""A real mosquitto for the fleet tests, and rosweb processes that use it.

:class:`Mosquitto` writes a config (plain, TLS, passwords + the project's ACL file) into a
directory of its own and runs Debian's ``mosquitto`` on a free loopback port; ``kill()`` and
``start()`` again restart it on the same port (the fault tests). :class:`RosWebProcess` is
``rosweb run`` in its own session (a robot with ``--fleet``, or the fleet server).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from helpers import free_port, wait_for

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_MISSING = (
    "mosquitto is not installed: `make test` (as root) installs Debian's mosquitto package"
)
ROOT = Path(__file__).resolve().parents[1]
ACL_FILE = ROOT / "examples" / "mosquitto" / "rosweb.acl"


def make_certs(directory: Path, names: list[str]) -> dict[str, tuple[Path, Path]]:
    """A CA and, per name, a certificate signed by it (CN = name, SAN 127.0.0.1 and localhost):
    ``{"ca": (cert, key), name: (cert, key)}``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.pem"

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=rosweb-test-ca",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca_cert),
    )
    out = {"ca": (ca_cert, ca_key)}
    for name in names:
        key, csr, cert = (
            directory / f"{name}.key",
            directory / f"{name}.csr",
            directory / f"{name}.pem",
        )
        ext = directory / f"{name}.ext"
        ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={name}",
            "-keyout",
            str(key),
            "-out",
            str(csr),
        )
        openssl(
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(ca_cert),
            "-CAkey",
            str(ca_key),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            str(ext),
            "-out",
            str(cert),
        )
        out[name] = (cert, key)
    return out


class Mosquitto:
    """mosquitto on ``127.0.0.1:port`` with a generated config."""

    def __init__(
        self,
        directory: Path,
        *,
        users: dict[str, str] | None = None,
        acl: Path | None = None,
        tls: dict[str, tuple[Path, Path]] | None = None,
        client_certs: bool = False,
    ) -> None:
        if not Path(MOSQUITTO).exists():
            raise AssertionError(MOSQUITTO_MISSING)
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = directory / "mosquitto.log"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence false",
            "log_type error",
            "log_type warning",
            "log_type notice",
            f"log_dest file {self.log}",
            "max_queued_messages 1000",
        ]
        if os.geteuid() == 0:  # as root, mosquitto would switch to its own user: keep reading
            lines.append("user root")  # our files (passwords, keys, log) in a 0700 directory
        if users is not None:
            passwords = directory / "passwords"
            passwords.write_text("")
            for user, password in users.items():
                subprocess.run(
                    ["mosquitto_passwd", "-b", str(passwords), user, password],
                    check=True,
                    capture_output=True,
                )
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        elif not client_certs:
            lines.append("allow_anonymous true")
        if acl is not None:
            lines.append(f"acl_file {acl}")
        if tls is not None:
            cert, key = tls["broker"]
            lines += [f"cafile {tls['ca'][0]}", f"certfile {cert}", f"keyfile {key}"]
            if client_certs:
                lines += ["require_certificate true", "use_identity_as_username true"]
        self.config = directory / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")
        os.chmod(directory, 0o700)

    def url(self, scheme: str = "mqtt", **query: str) -> str:
        q = "&".join(f"{k}={v}" for k, v in query.items())
        return f"{scheme}://127.0.0.1:{self.port}" + (f"?{q}" if q else "")

    def is_up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def start(self) -> Mosquitto:
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            wait_for(lambda: self.is_up() or self.proc.poll() is not None, timeout=10)  # type: ignore[union-attr]
        finally:
            if self.proc.poll() is not None:
                log = self.log.read_text() if self.log.exists() else ""
                err = self.proc.communicate()[1].decode()
                raise AssertionError(f"mosquitto exited: {err} {log}")
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.communicate()
        wait_for(lambda: not self.is_up(), timeout=5)


class RosWebProcess:
    """``rosweb run ARGS`` on a free port, in its own session; ``.url`` once up."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self._run_args = args
        self._choose_port()
        self.log = log
        base = {k: v for k, v in os.environ.items() if not k.startswith("ROSWEB_")}
        self.env = {**base, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def _choose_port(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        rosweb = str(Path(sys.executable).parent / "rosweb")
        self.args = [rosweb, "run", "--port", str(self.port), *self._run_args]

    def start(self, wait: bool = True) -> RosWebProcess:
        attempts = 1
        while True:
            out = open(self.log, "ab")  # noqa: SIM115 - the process writes it after we return
            self.proc = subprocess.Popen(
                self.args, env=self.env, stdout=out, stderr=out, start_new_session=True
            )
            out.close()
            if not wait:
                return self
            try:
                wait_for(self.is_up, timeout=30)
                return self
            except AssertionError:
                # the free port was taken meanwhile (another process's outgoing connection got
                # it as its ephemeral port): another one, as a user would
                if attempts == 3 or "Address already in use" not in self.log.read_text():
                    raise
            attempts += 1
            self._choose_port()

    def is_up(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"rosweb exited: {self.log.read_text()[-3000:]}")
        try:
            return httpx.get(self.url + "/api/", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def get(self, path: str, **kwargs: Any) -> Any:
        return httpx.get(self.url + path, timeout=10, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return httpx.post(self.url + path, json=body, timeout=10, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return httpx.put(self.url + path, json=body, timeout=10, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return httpx.delete(self.url + path, timeout=10, **kwargs)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def pose(process: RosWebProcess, topic: str = "/api/topics/odom") -> tuple[float, float]:
    """(x, y) of a robot, read from its own REST API."""
    position = process.get(topic).json()["msg"]["pose"]["pose"]["position"]
    return position["x"], position["y"]


def moved(before: tuple[float, float], after: tuple[float, float]) -> float:
    return float(((after[0] - before[0]) ** 2 + (after[1] - before[1]) ** 2) ** 0.5)


def settle(seconds: float) -> None:
    time.sleep(seconds)
