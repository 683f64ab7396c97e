"""What every `tradelane` command that talks to the API shares: the API URL and key options, the client with the
development key of the role a command needs, and how a refusal is printed."""

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from infra.platform.dev_secrets import DEV_API_KEYS
from starter.client import TradelaneClient, TradelaneError, TradelaneUnreachable

console = Console()

ApiUrl = Annotated[str | None, typer.Option(
    "--api", envvar="TRADELANE_API_URL", show_default=False,
    help="Tradelane API base URL; defaults to http://TRADELANE_API_HOST:TRADELANE_API_PORT (127.0.0.1:8000).")]
ApiKeyOpt = Annotated[str | None, typer.Option(
    "--api-key", envvar="TRADELANE_API_KEY", show_default=False,
    help="API key (backend role to create and read, ops role to decide, cancel and change stock); "
         "defaults to the documented development key of the role the command needs.")]


def api_url(api: str | None) -> str:
    """`--api` (or TRADELANE_API_URL), else where the API's own settings make it listen."""
    from infra.platform.settings import ApiAddress

    return api.rstrip("/") if api else ApiAddress().url


def api_client(api: str | None, key: str | None = None, role: str = "backend") -> TradelaneClient:
    return TradelaneClient(api_url(api), api_key=key or DEV_API_KEYS[role])


def fail(err: TradelaneError) -> None:
    """Print the API's refusal once (field by field when it names fields) and exit 1; when nothing answered, one
    line saying what to start."""
    if isinstance(err, TradelaneUnreachable):
        console.print(f"[red]error[/red] {escape(err.message)}: start it with `make up` (or `tradelane up`), or set "
                      "TRADELANE_API_URL to where it runs", soft_wrap=True, highlight=False)
    elif err.fields:
        # The message of a refusal with fields is those fields joined; printing both said everything twice.
        console.print(f"[red]error[/red] {escape(err.code)}", highlight=False)
        for field in err.fields:
            console.print(f"  [yellow]{escape(field['field'])}[/yellow]: {escape(field['message'])}",
                          soft_wrap=True, highlight=False)
    else:
        console.print(f"[red]error[/red] {escape(err.code)}: {escape(err.message)}", soft_wrap=True,
                      highlight=False)
    raise typer.Exit(1)
