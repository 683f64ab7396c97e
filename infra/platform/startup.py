"""Why a service cannot start, said in one line that names what to do, instead of a traceback: a refused setting,
a port something else already listens on. Used by every command that runs a service (`tradelane worker`, `relay`,
`api`, `up`, `cluster`)."""

import errno
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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


@dataclass(frozen=True)
class PortUse:
    """A port a server will listen on, what listens there, and the setting that moves it (for the one-line error)."""

    port: int
    what: str
    setting: str
    host: str = "127.0.0.1"

    def taken(self) -> StartupError:
        return StartupError(f"port {self.port} ({self.what}) is already in use on {self.host}: stop what listens "
                            f"there, or set {self.setting} to move it")


def tradelane_port_uses(settings: Settings, workers: int = 1) -> list[PortUse]:
    """The ports Tradelane's services take: the API, the sandbox, SMTP, and each worker's health and metrics ports
    (worker N takes the setting's port + N - 1); a port turned off (empty) takes none."""
    uses = [PortUse(settings.api_port, "Tradelane API", "TRADELANE_API_PORT", settings.api_host),
            PortUse(settings.sandbox_port, "carrier sandbox", "TRADELANE_SANDBOX_PORT", settings.sandbox_host),
            PortUse(settings.smtp_port, "SMTP server", "TRADELANE_SMTP_PORT", settings.smtp_host)]
    for n in range(workers):
        worker = "worker" if workers == 1 else f"tradelane-worker-{n + 1}"
        if settings.worker_health_port is not None:
            uses.append(PortUse(settings.worker_health_port + n, f"{worker} health", "TRADELANE_WORKER_HEALTH_PORT",
                                settings.ops_host))
        if settings.metrics_port is not None:
            uses.append(PortUse(settings.metrics_port + n, f"{worker} metrics", "TRADELANE_METRICS_PORT",
                                settings.ops_host))
    return uses


def port_use(settings: Settings, setting: str) -> PortUse | None:
    """The port `setting` gives a service of one process (`TRADELANE_METRICS_PORT`); None when it is turned off."""
    return next((use for use in tradelane_port_uses(settings) if use.setting == setting), None)


@contextmanager
def binding(use: PortUse | None) -> Iterator[None]:
    """Around a server's bind to `use`'s port: "address already in use" becomes its one line naming the port and
    the setting (as the OS error from Python's sockets, or the text the Temporal runtime's Prometheus exporter
    raises). None (a port turned off) changes nothing."""
    try:
        yield
    except (OSError, ValueError) as err:
        in_use = err.errno == errno.EADDRINUSE if isinstance(err, OSError) else "Address already in use" in str(err)
        if use is None or not in_use:
            raise
        raise use.taken() from None


def check_ports_free(uses: list[PortUse]) -> None:
    """Refuse, in one line, the first port something listens on, before starting servers that would fail on it
    later, in their own logs."""
    for use in uses:
        with binding(use), socket.socket() as sock:
            # As the servers bind: a port whose last connections linger in TIME_WAIT is free, a listener is not.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((use.host, use.port))
