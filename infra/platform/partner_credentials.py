"""Partner credentials by reference: a connection names the environment variables holding them, never the values.

In development and tests a variable that is not set falls back to a development credential the sandbox's emulators
accept (`dev-<partner>-<field>`); in production a missing one stops the worker at start, naming the variable.
"""

import os
from collections.abc import Mapping

from tradelane.connections import Connection, directory


class MissingCredentials(RuntimeError):
    """Production settings name partner credentials whose environment variables are not set."""


def dev_credential(partner: str, field: str) -> str:
    """The development value of a partner's credential field (what the sandbox's emulators accept)."""
    return f"dev-{partner}-{field}"


def credentials(connection: Connection, environment: str,
                env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The connection's credentials by field, read from the environment."""
    env = os.environ if env is None else env
    found: dict[str, str] = {}
    for field, variable in connection.credentials.items():
        value = env.get(variable, "").strip()
        if not value:
            if environment == "production":
                raise MissingCredentials(f"partner {connection.name}: {variable} ({field}) is not set")
            value = dev_credential(connection.name, field)
        found[field] = value
    return found


def check_all(environment: str, env: Mapping[str, str] | None = None) -> None:
    """Refuse to start when any connection's credential is missing (production); lists every missing variable."""
    problems = []
    for connection in directory().connections.values():
        try:
            credentials(connection, environment, env)
        except MissingCredentials as err:
            problems.append(str(err))
    if problems:
        raise MissingCredentials("; ".join(problems))
