"""Why a service cannot start, said in one line that names what to do, instead of a traceback: a refused setting,
a port something else already listens on. Used by every command that runs a service (`tradelane worker`, `relay`,
`api`, `up`, `cluster`)."""

import errno
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import ValidationError

from infra.platform.settings import ENV_PREFIX, Settings, get_settings


class StartupError(Exception):
    """Why a service cannot start, in one line that names what to do."""


@contextmanager
def ended_by_startup_errors() -> Iterator[None]:
    """For a command: a StartupError ends it with its one line on stderr and exit code 1, not a traceback."""
    try:
        yield
    except StartupError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


def refused_setting(err: ValidationError, env_prefix: str = ENV_PREFIX) -> str:
    """The first value a settings model refused, as one line naming its variable (`TRADELANE_API_PORT=abc: Input
    should be a valid integer, unable to parse string as an integer (fix it or unset it)`). A field read by its own
    name (`TEMPORAL_SERVER_PATH`) is named so; a check across fields has no variable."""
    first = err.errors()[0]
    if not first["loc"]:
        return f"{first['msg']} (fix the settings it names)"
    name = str(first["loc"][0])
    variable = name if name.isupper() else f"{env_prefix}{name.upper()}"
    return f"{variable}={first.get('input')}: {first['msg']} (fix it or unset it)"


def load_settings() -> Settings:
    """The service's settings (`TRADELANE_*`, `.env`).

    Raises:
        StartupError: for the first value refused, naming its variable.
    """
    try:
        return get_settings()
    except ValidationError as err:
        raise StartupError(refused_setting(err)) from None


def port_taken(host: str, port: int, setting: str) -> StartupError:
    return StartupError(f"port {port} ({setting}) is already in use on {host}: stop what listens there, or set "
                        f"{setting} to another port")


@contextmanager
def binding(host: str, port: int | None, setting: str) -> Iterator[None]:
    """Around a server's bind to `host:port`, the port its `setting` chose: "address already in use" becomes one line
    naming the port and the setting (as the OS error from Python's sockets, or the text the Temporal runtime's
    Prometheus exporter raises)."""
    try:
        yield
    except OSError as err:
        if err.errno != errno.EADDRINUSE or port is None:
            raise
        raise port_taken(host, port, setting) from None
    except ValueError as err:
        if "Address already in use" not in str(err) or port is None:
            raise
        raise port_taken(host, port, setting) from None


def check_port_free(host: str, port: int, setting: str) -> None:
    """Refuse, in one line, a port something listens on, before starting a server that would fail on it later."""
    with binding(host, port, setting), socket.socket() as sock:
        # As the servers bind: a port whose last connections linger in TIME_WAIT is free, a listener is not.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
