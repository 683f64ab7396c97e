"""What every `tradelane` command that talks to the API shares: the API URL and key options, the client with the
development key of the role a command needs, and how a refusal is printed."""

from typing import Annotated

import typer
from rich.console import Console

from infra.platform.dev_secrets import DEV_API_KEYS
from starter.client import TradelaneClient, TradelaneError

console = Console()

DEFAULT_API = "http://127.0.0.1:8000"
ApiUrl = Annotated[str, typer.Option("--api", envvar="TRADELANE_API_URL", help="Tradelane API base URL.")]
ApiKeyOpt = Annotated[str | None, typer.Option(
    "--api-key", envvar="TRADELANE_API_KEY", show_default=False,
    help="API key (backend role to create and read, ops role to decide, cancel and change stock); "
         "defaults to the documented development key of the role the command needs.")]


def api_client(api: str, key: str | None = None, role: str = "backend") -> TradelaneClient:
    return TradelaneClient(api, api_key=key or DEV_API_KEYS[role])


def fail(err: TradelaneError) -> None:
    """Print the API's refusal, field by field, and exit 1."""
    console.print(f"[red]error[/red] {err.code}: {err.message}")
    for field in err.fields:
        console.print(f"  [yellow]{field['field']}[/yellow]: {field['message']}")
    raise typer.Exit(1)
