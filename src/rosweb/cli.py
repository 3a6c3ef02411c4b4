"""The ``rosweb`` command.

``rosweb run`` serves the robot; the other commands talk to a running server over HTTP. Domain
errors become a one-line message and exit code 1 here, in :func:`main`, and nowhere else.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click
import requests

from rosweb import __version__, config
from rosweb.errors import RosWebError

__all__ = ["cli", "main"]

DEFAULT_URL = "http://127.0.0.1:8080"


class CommandError(RosWebError):
    """A command failed for a reason the user can act on."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="rosweb")
def cli() -> None:
    """Put a robot on the web: serve it (run) or talk to a running server."""


@cli.command()
@click.option("--backend", "-b", help="Middleware URL: sim:// (default, simulated robot).")
@click.option("--host", help="Address to bind (default 127.0.0.1, loopback only).")
@click.option("--port", "-p", type=int, help="Port to listen on (default 8080).")
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False), help="TOML settings file."
)
@click.option("--threads", type=int, help="WSGI worker threads (default 32).")
@click.option(
    "--rosbridge-port",
    type=int,
    help="Also serve the rosbridge protocol at ws://HOST:PORT/ (as rosbridge_server does).",
)
@click.option(
    "--workers",
    type=int,
    help="Web worker processes sharing one agent with the node (default 1: no agent).",
)
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))  # fmt: skip
def run(
    backend: str | None,
    host: str | None,
    port: int | None,
    config_file: str | None,
    threads: int | None,
    rosbridge_port: int | None,
    workers: int | None,
    log_level: str,
) -> None:
    """Serve the robot's web API (Tornado in front of the Flask app)."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    flags = {
        "ROSWEB_BACKEND": backend,
        "ROSWEB_HOST": host,
        "ROSWEB_PORT": port,
        "ROSWEB_THREADS": threads,
        "ROSWEB_ROSBRIDGE_PORT": rosbridge_port,
        "ROSWEB_WORKERS": workers,
    }
    settings = config.load({k: v for k, v in flags.items() if v is not None}, toml_file=config_file)
    if settings["ROSWEB_WORKERS"] > 1:
        from rosweb.workers import run_workers

        click.echo(f"rosweb {__version__}: robot {settings['ROSWEB_BACKEND']}", err=True)
        run_workers(settings, settings["ROSWEB_WORKERS"], log_level=log_level,
                    echo=lambda line: click.echo(line, err=True))  # fmt: skip
        click.echo("rosweb: stopped", err=True)
        return
    from rosweb.server import Server
    from rosweb.web import RosWeb, create_app
    from rosweb.web.native import rosbridge_handlers, tornado_handlers

    app = create_app(settings)
    bridge_port = settings["ROSWEB_ROSBRIDGE_PORT"]

    def ready(server: Server) -> None:
        click.echo(f"rosweb: serving at {server.url}  (Ctrl-C to stop)", err=True)
        click.echo(f"rosweb: rosbridge protocol at ws://{server.host}:{server.port}"
                   f"{settings['ROSWEB_BRIDGE_PATH']}", err=True)  # fmt: skip
        if bridge_port:
            click.echo(f"rosweb: rosbridge protocol at ws://{server.host}:{bridge_port}/", err=True)

    server = Server(
        app,
        settings["ROSWEB_HOST"],
        settings["ROSWEB_PORT"],
        threads=settings["ROSWEB_THREADS"],
        handlers=tornado_handlers(app),
        extra_ports={bridge_port: rosbridge_handlers(app)} if bridge_port else None,
        on_ready=ready,
    )
    click.echo(f"rosweb {__version__}: robot {settings['ROSWEB_BACKEND']}", err=True)
    try:
        server.serve_forever()
    except OSError as err:
        raise CommandError(f"cannot listen on {server.host}:{server.port}: {err.strerror}") from err
    finally:
        RosWeb.close(app)
    click.echo("rosweb: stopped", err=True)


@cli.command()
@click.option("--backend", "-b", help="Middleware URL: sim:// (default), ros1://...")
@click.option("--listen", "-l", required=True,
              help="Address to serve workers on: ipc://PATH or tcp://127.0.0.1:PORT.")  # fmt: skip
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False), help="TOML settings file."
)
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))  # fmt: skip
def agent(backend: str | None, listen: str, config_file: str | None, log_level: str) -> None:
    """Run the robot node alone, for web workers using ROSWEB_BACKEND=agent://ADDRESS."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    flags = {"ROSWEB_BACKEND": backend} if backend else {}
    settings = config.load(flags, toml_file=config_file)
    from rosweb.agent.agent import serve_forever

    def ready(node: Any) -> None:
        click.echo(f"rosweb agent: serving {settings['ROSWEB_BACKEND']} at {node.address}  "
                   f"(workers: ROSWEB_BACKEND=agent://{node.address})", err=True)  # fmt: skip

    serve_forever(settings, listen, on_ready=ready)
    click.echo("rosweb agent: stopped", err=True)


def _get(url: str, path: str) -> Any:
    try:
        response = requests.get(url.rstrip("/") + path, timeout=10)
    except requests.RequestException as err:
        raise CommandError(f"cannot reach rosweb at {url}: {type(err).__name__}") from err
    body = response.json() if response.content else None
    if response.status_code >= 400:
        message = (body or {}).get("error", {}).get("message", response.reason)
        raise CommandError(f"{path}: {message} (HTTP {response.status_code})")
    return body


@cli.command()
@click.option("--url", "-u", default=DEFAULT_URL, show_default=True, envvar="ROSWEB_URL",
              help="Base URL of a running rosweb server.")  # fmt: skip
@click.option("--verbose", "-v", is_flag=True, help="Show types too (as `rostopic list -v`).")
def topics(url: str, verbose: bool) -> None:
    """List the topics of a running server, as `rostopic list`."""
    for item in _get(url, "/api/topics")["topics"]:
        click.echo(f"{item['name']} [{item['type']}]" if verbose else item["name"])


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the CLI; a RosWebError prints one line and exits 1."""
    try:
        cli.main(args=argv, prog_name="rosweb", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except RosWebError as err:
        click.echo(f"rosweb: error: {err}", err=True)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
