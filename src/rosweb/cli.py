"""The ``rosweb`` command.

``rosweb run`` serves the robot; the other commands talk to a running server over HTTP. Domain
errors become a one-line message and exit code 1 here, in :func:`main`, and nowhere else.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from rosweb import __version__, config
from rosweb.client.cli import HelpGroup
from rosweb.client.cli import register as register_client_commands
from rosweb.errors import RosWebError
from rosweb.simcli import register as register_sim_command

__all__ = ["cli", "main"]


class CommandError(RosWebError):
    """A command failed for a reason the user can act on."""


@click.group(cls=HelpGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option("--cert", type=click.Path(dir_okay=False, exists=True),
              help="TLS certificate (PEM): serve HTTPS and WSS.")  # fmt: skip
@click.option("--key", type=click.Path(dir_okay=False, exists=True),
              help="TLS private key (PEM) of --cert.")  # fmt: skip
@click.option("--insecure", is_flag=True, default=None,
              help="Serve beyond loopback without authentication (your own network).")  # fmt: skip
@click.option(
    "--workers",
    type=int,
    help="Web worker processes sharing one agent with the node (default 1: no agent).",
)
@click.option(
    "--input", "inputs", multiple=True, metavar="SOURCE[=TOPIC]",
    help="Publish a camera: a V4L2 device (/dev/video0), a video file or an RTSP/HTTP URL, "
    "on TOPIC (repeatable; options after #, e.g. clip.mp4=/clip/image_raw#loop=0).",
)  # fmt: skip
@click.option("--fleet", help="Also serve this robot to a fleet through an MQTT broker: "
              "mqtt[s]://BROKER[:PORT]?robot=NAME.")  # fmt: skip
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"]))  # fmt: skip
def run(
    backend: str | None,
    host: str | None,
    port: int | None,
    config_file: str | None,
    threads: int | None,
    rosbridge_port: int | None,
    cert: str | None,
    key: str | None,
    insecure: bool | None,
    workers: int | None,
    inputs: tuple[str, ...],
    fleet: str | None,
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
        "ROSWEB_CERT": cert,
        "ROSWEB_KEY": key,
        "ROSWEB_INSECURE": insecure,
        "ROSWEB_WORKERS": workers,
        "ROSWEB_INPUTS": list(inputs) or None,
        "ROSWEB_FLEET": fleet,
    }
    settings = config.load({k: v for k, v in flags.items() if v is not None}, toml_file=config_file)
    from rosweb.web.security import check_exposure

    check_exposure(settings)  # no unauthenticated robot on the network
    if bool(settings["ROSWEB_CERT"]) != bool(settings["ROSWEB_KEY"]):
        raise CommandError("TLS needs both --cert and --key")
    if settings["ROSWEB_INSECURE"] and not settings["ROSWEB_USERS"]:
        click.echo("rosweb: WARNING: authentication is off (--insecure): anyone who can reach "
                   f"{settings['ROSWEB_HOST']} can drive the robot", err=True)  # fmt: skip
    if settings["ROSWEB_FLEET"] and settings["ROSWEB_WORKERS"] > 1:
        raise CommandError("--fleet runs in a single process for now: leave out --workers")
    if settings["ROSWEB_WORKERS"] > 1:
        import secrets

        from rosweb.server.workers import run_workers

        # one key for every worker: a login made through one is valid in all
        settings["ROSWEB_SECRET_KEY"] = settings["ROSWEB_SECRET_KEY"] or secrets.token_hex(32)

        click.echo(f"rosweb {__version__}: robot {settings['ROSWEB_BACKEND']}", err=True)
        run_workers(settings, settings["ROSWEB_WORKERS"], log_level=log_level,
                    echo=lambda line: click.echo(line, err=True))  # fmt: skip
        click.echo("rosweb: stopped", err=True)
        return
    from rosweb.hub.switch import tune_process
    from rosweb.server import Server
    from rosweb.web import RosWeb, create_app

    app = create_app(settings)
    bridge_port = settings["ROSWEB_ROSBRIDGE_PORT"]

    def ready(server: Server) -> None:
        click.echo(f"rosweb: serving at {server.url}  (Ctrl-C to stop)", err=True)
        ws = "wss" if server.tls else "ws"
        click.echo(f"rosweb: rosbridge protocol at {ws}://{server.host}:{server.port}"
                   f"{settings['ROSWEB_BRIDGE_PATH']}", err=True)  # fmt: skip
        if bridge_port:
            click.echo(
                f"rosweb: rosbridge protocol at {ws}://{server.host}:{bridge_port}/", err=True
            )

    server = Server.for_app(app, settings, on_ready=ready)
    click.echo(f"rosweb {__version__}: robot {settings['ROSWEB_BACKEND']}", err=True)
    bridge = None
    try:
        if settings["ROSWEB_FLEET"]:
            from rosweb.fleet.robot_bridge import RobotBridge

            bridge = RobotBridge(app.extensions["rosweb"].robot, settings).start()
            click.echo(f"rosweb: fleet robot {bridge.name} through {bridge.options.url}", err=True)
        tune_process()  # rosweb's own process: a 2 ms GIL switch interval (rosweb.hub.switch)
        server.serve_forever()
    except OSError as err:
        raise CommandError(f"cannot listen on {server.host}:{server.port}: {err.strerror}") from err
    finally:
        if bridge is not None:
            bridge.close()
        RosWeb.close(app)
    click.echo("rosweb: stopped", err=True)


# the commands against a running server: topics, echo, pub, call, param, teleop
register_client_commands(cli)
register_sim_command(cli)


@cli.group()
def user() -> None:
    """Manage the users of a config file (password hashes and API tokens)."""


_CONFIG_OPTION = click.option(
    "--config", "config_file", required=True, type=click.Path(dir_okay=False),
    help="The TOML settings file to edit (created if missing).",
)  # fmt: skip


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "operator", "admin"]), default="viewer",
              show_default=True, help="What the user may do.")  # fmt: skip
@click.option("--password", help="The password (asked for when not given; '' for none).")
@click.option("--token", "with_token", is_flag=True,
              help="Also make an API token (printed once; only its hash is stored).")  # fmt: skip
@_CONFIG_OPTION
def user_add(
    name: str, role: str, password: str | None, with_token: bool, config_file: str
) -> None:
    """Add a user (or update their role, password, tokens) in the config file."""
    from rosweb.web.auth import hash_password, hash_token, new_token

    if password is None:
        password = click.prompt(
            f"password for {name} (empty: token only)", hide_input=True,
            confirmation_prompt=True, default="", show_default=False,
        )  # fmt: skip
    document = _read_toml(config_file)
    users = document.setdefault("users", {})
    entry = users.get(name) or {}
    entry["role"] = role
    if password:
        entry["password"] = hash_password(password)
    token = None
    if with_token:
        token = new_token()
        tokens = list(entry.get("tokens", []))
        tokens.append(hash_token(token))
        entry["tokens"] = tokens
    users[name] = entry
    _write_toml(config_file, document)
    click.echo(f"rosweb: user {name} ({role}) written to {config_file}", err=True)
    if token is not None:
        click.echo(token)  # on stdout alone, for scripts: TOKEN=$(rosweb user add ...)


@user.command("list")
@_CONFIG_OPTION
def user_list(config_file: str) -> None:
    """List the users of the config file with their roles."""
    for name, entry in _read_toml(config_file).get("users", {}).items():
        tokens = len(entry.get("tokens", []))
        login = "password" if entry.get("password") else "no password"
        click.echo(f"{name}\t{entry.get('role', 'viewer')}\t{login}, {tokens} token(s)")


@user.command("remove")
@click.argument("name")
@_CONFIG_OPTION
def user_remove(name: str, config_file: str) -> None:
    """Remove a user (and their tokens) from the config file."""
    document = _read_toml(config_file)
    users = document.get("users", {})
    if name not in users:
        raise CommandError(f"no user {name!r} in {config_file}")
    del users[name]
    _write_toml(config_file, document)


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


def _read_toml(path: str) -> Any:
    import tomlkit

    try:
        with open(path, encoding="utf-8") as f:
            return tomlkit.load(f)
    except FileNotFoundError:
        return tomlkit.document()
    except (OSError, tomlkit.exceptions.TOMLKitError) as err:
        raise CommandError(f"cannot read {path}: {err}") from err


def _write_toml(path: str, document: Any) -> None:
    import os

    import tomlkit

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds secrets' hashes
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(tomlkit.dumps(document))


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
