"""The client and the CLI against an HTTPS server with a self-signed certificate, as README's
`openssl req` line makes one: refused unless told to trust it (`verify=`, `--cacert`,
`ROSWEB_CACERT`), then REST and WSS both work."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rosweb.client import AsyncClient, Client
from rosweb.errors import ClientConnectionError
from rosweb.server import Server
from rosweb.server.handlers import tornado_handlers
from rosweb.web import RosWeb, create_app

pytestmark = pytest.mark.integration

ROSWEB = str(Path(sys.executable).parent / "rosweb")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=robot", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def https_url(certificate: tuple[Path, Path]) -> Iterator[str]:
    cert, key = certificate
    app = create_app({"TESTING": True})
    server = Server(app, "127.0.0.1", 0, threads=8, handlers=tornado_handlers(app),
                    certfile=str(cert), keyfile=str(key))  # fmt: skip
    server.start()
    yield server.url
    server.stop()
    RosWeb.close(app)


def rosweb(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ROSWEB_")}
    return subprocess.run([ROSWEB, *args], capture_output=True, text=True, timeout=30,
                          env={**base, **(env or {})})  # fmt: skip


def test_the_client_refuses_an_unknown_certificate(https_url: str) -> None:
    with Client(https_url) as robot, pytest.raises(ClientConnectionError, match="CERTIFICATE"):
        robot.topics()


def test_the_client_trusts_the_certificate_it_is_given(
    https_url: str, certificate: tuple[Path, Path]
) -> None:
    with Client(https_url, verify=str(certificate[0])) as robot:
        assert robot.topics()["/odom"] == "nav_msgs/Odometry"
        with robot.subscribe("/odom", limit=1, timeout=10) as sub:  # over wss://
            assert [msg["header"]["frame_id"] for msg in sub] == ["odom"]


def test_verify_false_trusts_anything(https_url: str) -> None:
    with Client(https_url, verify=False) as robot:
        assert "/scan" in robot.topics()


def test_the_async_client_takes_verify_too(https_url: str, certificate: tuple[Path, Path]) -> None:
    async def session() -> list[str]:
        async with AsyncClient(https_url, verify=str(certificate[0])) as robot:
            subscription = await robot.subscribe("/battery", limit=1, timeout=10)
            return [msg["header"]["frame_id"] async for msg in subscription]

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # a loop of its own (see test_client)
        assert pool.submit(asyncio.run, session()).result() == ["base_link"]


def test_the_cli_takes_cacert_or_rosweb_cacert(
    https_url: str, certificate: tuple[Path, Path]
) -> None:
    refused = rosweb("topics", "--url", https_url)
    assert refused.returncode == 1
    assert refused.stderr.startswith("rosweb: error: ")
    assert "CERTIFICATE_VERIFY_FAILED" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    given = rosweb("topics", "--url", https_url, "--cacert", str(certificate[0]))
    assert given.returncode == 0, given.stderr
    assert "/odom" in given.stdout.split()
    env = {"ROSWEB_CACERT": str(certificate[0]), "ROSWEB_URL": https_url}
    echoed = rosweb("echo", "/battery", "-n", "1", "--json", env=env)  # REST and wss://
    assert echoed.returncode == 0, echoed.stderr
    assert '"frame_id":"base_link"' in echoed.stdout.replace(" ", "")
