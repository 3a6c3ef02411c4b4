"""``rosweb topics|echo|pub|call|param|teleop``: the client's commands against a running server.

Output follows rostopic, rosservice and rosparam: names one a line, messages as YAML separated by
``---`` (or ``--json``: one JSON document a line). Errors are raised (RosWebError, click's
exceptions) and printed as one line by :func:`rosweb.cli.main`.
"""

from __future__ import annotations

import os
import select
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from rosweb.client import Client

__all__ = ["COMMANDS", "HelpGroup", "register"]

DEFAULT_URL = "http://127.0.0.1:8080"

F = TypeVar("F", bound=Callable[..., Any])


class HelpGroup(click.Group):
    """A group whose command list shows each command's whole first line, wrapped, never cut
    off with "..." (click's default cuts it to fit one line). Its subgroups are ones too."""

    group_class = type

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            text = command.short_help or (command.help or "").strip().split("\n\n")[0]
            rows.append((name, " ".join(text.split())))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _remember_cacert(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    ctx.meta["rosweb.cacert"] = value


def _connection(func: F) -> F:
    """The options every client command has: ``--url``, ``--token`` and ``--cacert``."""
    func = click.option(
        "--cacert",
        envvar="ROSWEB_CACERT",
        type=click.Path(exists=True),
        expose_value=False,
        callback=_remember_cacert,
        help="CA certificate (PEM) to trust for https:// (a self-signed server's own "
        "certificate works); default $ROSWEB_CACERT.",
    )(func)
    func = click.option(
        "--token",
        envvar="ROSWEB_TOKEN",
        help="Access token (sent as Authorization: Bearer); default $ROSWEB_TOKEN.",
    )(func)
    func = click.option(
        "--url",
        "-u",
        default=DEFAULT_URL,
        show_default=True,
        envvar="ROSWEB_URL",
        help="Base URL of a running rosweb server (or $ROSWEB_URL).",
    )(func)
    return func


def _client(url: str, token: str | None, *, decode: bool = True) -> Client:
    from rosweb.client import Client

    cacert = click.get_current_context().meta.get("rosweb.cacert")
    return Client(url, token=token, decode=decode, verify=cacert or True)


def _parse_value(text: str, what: str) -> Any:
    """A YAML (or JSON) argument, as rostopic pub and rosparam set take them."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise click.BadParameter(f"not YAML or JSON: {err}", param_hint=what) from None


def _plain(value: Any, noarr: bool) -> Any:
    """Bytes as lists of ints (as rostopic shows uint8[]), or every array abridged (--noarr)."""
    if isinstance(value, dict):
        return {k: _plain(v, noarr) for k, v in value.items()}
    if isinstance(value, bytes | list):
        if noarr:
            return f"<array of length {len(value)}>"
        return list(value) if isinstance(value, bytes) else [_plain(v, noarr) for v in value]
    return value


def _yaml(value: Any, noarr: bool = False) -> str:
    """YAML as rostopic echo prints it: messages as blocks, lists of numbers in brackets."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def sequence(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
        flow = all(not isinstance(item, dict | list) for item in data)
        return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)

    Dumper.add_representer(list, sequence)
    text: str = yaml.dump(
        _plain(value, noarr), Dumper=Dumper, default_flow_style=False, sort_keys=False, width=100
    )
    return text.removesuffix("...\n").rstrip("\n")


def _json_line(value: Any) -> str:
    from rosweb.messages import to_json

    return to_json(value)


# -- topics ---------------------------------------------------------------------------------------


@click.command()
@_connection
@click.option("--verbose", "-v", is_flag=True, help="Show types too (as `rostopic list -v`).")
def topics(url: str, token: str | None, verbose: bool) -> None:
    """List the topics of a running server, as `rostopic list`."""
    with _client(url, token) as robot:
        for name, type_name in robot.topics().items():
            click.echo(f"{name} [{type_name}]" if verbose else name)


@click.command()
@_connection
@click.argument("topic")
@click.option("--count", "-n", type=click.IntRange(min=1), help="Exit after this many messages.")
@click.option("--json", "as_json", is_flag=True, help="One JSON message a line (uint8[] base64).")
@click.option("--throttle-rate", type=click.FloatRange(min=0), default=0, help="Min ms between.")
@click.option("--noarr", is_flag=True, help="Abridge arrays to their length (as rostopic).")
def echo(
    url: str,
    token: str | None,
    topic: str,
    count: int | None,
    as_json: bool,
    throttle_rate: float,
    noarr: bool,
) -> None:
    """Print a topic's messages as they come, as `rostopic echo` (YAML, `---` between)."""
    with _client(url, token, decode=not as_json) as robot:
        subscription = robot.subscribe(topic, throttle_rate=throttle_rate, limit=count)
        with subscription:
            for msg in subscription:
                if as_json:
                    click.echo(_json_line(msg))
                else:
                    click.echo(_yaml(msg, noarr))
                    click.echo("---")


@click.command()
@_connection
@click.argument("topic")
@click.argument("args", nargs=-1, required=True, metavar="[TYPE] MSG")
@click.option("--rate", "-r", type=click.FloatRange(min=0, min_open=True), help="Repeat at HZ.")
@click.option("--once", "-1", is_flag=True, help="Publish once and exit (the default).")
@click.option("--latch", is_flag=True, help="Latch the topic (new subscribers get the message).")
def pub(
    url: str,
    token: str | None,
    topic: str,
    args: tuple[str, ...],
    rate: float | None,
    once: bool,
    latch: bool,
) -> None:
    """Publish MSG (YAML or JSON) on TOPIC, as `rostopic pub`; TYPE for a new topic."""
    if len(args) > 2:
        raise click.UsageError("expected [TYPE] MSG")
    if rate is not None and once:
        raise click.UsageError("--rate and --once exclude each other")
    type_name = args[0] if len(args) == 2 else None
    msg = _parse_value(args[-1], "MSG")
    try:
        with _client(url, token) as robot:
            _publish(robot, topic, msg, type_name, latch)
            if rate is None:
                return
            click.echo(f"publishing to {topic} at {rate:g} Hz (Ctrl-C to stop)", err=True)
            period = 1.0 / rate
            next_at = time.monotonic() + period
            while True:
                time.sleep(max(next_at - time.monotonic(), 0.0))
                next_at += period
                robot.publish(topic, msg, type_name, latch=latch)
    except KeyboardInterrupt:  # Ctrl-C is how --rate ends: quietly, whenever it comes
        return


def _publish(robot: Client, topic: str, msg: Any, type_name: str | None, latch: bool) -> None:
    """The first publication: a topic unknown without TYPE says how to give it."""
    from rosweb.errors import NotFoundError

    try:
        robot.publish(topic, msg, type_name, latch=latch)
    except NotFoundError as err:
        if type_name is not None:
            raise
        name = "/" + topic.lstrip("/")
        hint = f"no topic {name}: give its type to create it (rosweb pub {name} TYPE MSG)"
        raise NotFoundError("topic", name, hint) from err


@click.command()
@_connection
@click.argument("service")
@click.argument("request", default="{}")
@click.option("--timeout", type=click.FloatRange(min=0), help="Seconds to wait for the answer.")
@click.option("--json", "as_json", is_flag=True, help="Print the response as JSON.")
def call(
    url: str, token: str | None, service: str, request: str, timeout: float | None, as_json: bool
) -> None:
    """Call SERVICE with REQUEST (YAML or JSON), as `rosservice call`; print the response."""
    args = _parse_value(request, "REQUEST")
    with _client(url, token, decode=not as_json) as robot:
        response = robot.call(service, args, timeout=timeout)
    click.echo(_json_line(response) if as_json else (_yaml(response) if response else "{}"))


# -- params ---------------------------------------------------------------------------------------


@click.group(cls=HelpGroup)
def param() -> None:
    """List, get, set and delete parameters, as `rosparam`."""


@param.command("list")
@_connection
@click.argument("namespace", default="/")
def param_list(url: str, token: str | None, namespace: str) -> None:
    """Print the parameter names (under NAMESPACE)."""
    prefix = "/" + namespace.strip("/")
    with _client(url, token) as robot:
        for name in robot.params.names():
            if prefix == "/" or name == prefix or name.startswith(prefix + "/"):
                click.echo(name)


@param.command("get")
@_connection
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the value as JSON.")
def param_get(url: str, token: str | None, name: str, as_json: bool) -> None:
    """Print a parameter's value (a namespace as a dictionary)."""
    from rosweb.errors import NotFoundError

    with _client(url, token) as robot:
        try:
            value = robot.params[name]
        except KeyError as err:
            raise NotFoundError("param", "/" + name.lstrip("/")) from err
    click.echo(_json_line(value) if as_json else _yaml(value))


@param.command("set")
@_connection
@click.argument("name")
@click.argument("value")
def param_set(url: str, token: str | None, name: str, value: str) -> None:
    """Set a parameter to VALUE (YAML or JSON: 0.5, true, '[1, 2]', '{a: 1}')."""
    with _client(url, token) as robot:
        robot.params[name] = _parse_value(value, "VALUE")


@param.command("delete")
@_connection
@click.argument("name")
def param_delete(url: str, token: str | None, name: str) -> None:
    """Delete a parameter."""
    from rosweb.errors import NotFoundError

    with _client(url, token) as robot:
        try:
            del robot.params[name]
        except KeyError as err:
            raise NotFoundError("param", "/" + name.lstrip("/")) from err


# -- teleop ---------------------------------------------------------------------------------------

#: key sequences -> teleop commands; anything else is ignored
KEYS: dict[bytes, str] = {
    b"\x1b[A": "forward",
    b"\x1bOA": "forward",
    b"w": "forward",
    b"\x1b[B": "back",
    b"\x1bOB": "back",
    b"s": "back",
    b"\x1b[D": "left",
    b"\x1bOD": "left",
    b"a": "left",
    b"\x1b[C": "right",
    b"\x1bOC": "right",
    b"d": "right",
    b" ": "stop",
    b"x": "stop",
}
QUIT = (b"q", b"Q", b"\x03")  # q, or Ctrl-C when the terminal does not turn it into SIGINT


def split_keys(data: bytes) -> Iterator[bytes]:
    """Key presses in what a terminal sent: escape sequences whole, other bytes one by one."""
    i = 0
    while i < len(data):
        if data[i : i + 1] == b"\x1b" and data[i + 1 : i + 2] in (b"[", b"O"):
            yield data[i : i + 3]
            i += 3
        else:
            yield data[i : i + 1]
            i += 1


@contextmanager
def _raw_terminal(fd: int) -> Iterator[None]:
    """Keys one by one, unechoed (cbreak: Ctrl-C still interrupts); restored on the way out."""
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@click.command()
@_connection
@click.option(
    "--speed",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Share of the server's teleop speeds.",
)
@click.option(
    "--release-timeout",
    type=click.FloatRange(min=0.05),
    default=0.6,
    show_default=True,
    help="Stop when no key repeat comes within this many s.",
)
@click.option(
    "--repeat",
    type=click.FloatRange(min=0.02),
    default=0.1,
    show_default=True,
    help="Seconds between repeats of the command while a key is held.",
)
def teleop(
    url: str, token: str | None, speed: float, release_timeout: float, repeat: float
) -> None:
    """Drive from the terminal: arrows or WASD, space stops, q quits.

    Terminals report no key release: a motion goes on while the key repeats and stops when no
    repeat came within --release-timeout; leaving (q, Ctrl-C) stops the robot.
    """
    fd = sys.stdin.fileno()
    if not os.isatty(fd):
        raise click.UsageError("teleop reads the keyboard: run it in a terminal")
    with _client(url, token) as robot:
        info = robot.teleop_info()
        click.echo(
            f"rosweb teleop {url}: arrows/WASD drive, space stops, q quits "
            f"(speed {speed:g} of {info['linear_speed']:g} m/s, {info['angular_speed']:g} rad/s)",
            err=True,
        )
        command = "stop"
        last_key = last_sent = 0.0
        try:
            with _raw_terminal(fd):
                while True:
                    now = time.monotonic()
                    wait = repeat if command == "stop" else min(repeat, release_timeout)
                    ready, _, _ = select.select([fd], [], [], wait)
                    now = time.monotonic()
                    pressed = None
                    if ready:
                        data = os.read(fd, 64)
                        if not data:
                            break  # the terminal is gone
                        for key in split_keys(data):
                            if key in QUIT:
                                return
                            pressed = KEYS.get(key, pressed)
                    if pressed is not None:
                        last_key = now
                        if pressed != command or pressed == "stop":
                            command = pressed
                            robot.teleop(command, speed)
                            last_sent = now
                            click.echo(f"\r{command:<8}", nl=False, err=True)
                    elif command != "stop" and now - last_key >= release_timeout:
                        command = "stop"  # the key was let go
                        robot.teleop(command, speed)
                        last_sent = now
                        click.echo(f"\r{command:<8}", nl=False, err=True)
                    if command != "stop" and now - last_sent >= repeat:
                        robot.teleop(command, speed)  # keeps the deadman fed while held
                        last_sent = now
        except KeyboardInterrupt:
            pass
        finally:
            robot.stop()
            click.echo("\rstopped", err=True)


COMMANDS: list[click.Command] = [topics, echo, pub, call, param, teleop]


def register(group: click.Group) -> None:
    """Add the client's commands to the ``rosweb`` group."""
    for command in COMMANDS:
        group.add_command(command)
