"""`tradelane`: the command line. The operational commands of `starter.cli` plus the development ones that start
the whole stack (`up`, `demo`), the partner sandbox and find the Temporal CLI.

Lives at the top of the import layers because these commands wire every service together.
"""

from typing import Annotated

import typer

from starter.cli import service_settings, app, console

__all__ = ["app"]


@app.command()
def up() -> None:
    """Run the whole stack in the foreground: dev server + Web UI, sandbox, worker, API."""
    from devstack.up import serve_forever

    serve_forever(service_settings())


@app.command()
def sandbox() -> None:
    """Run the carrier sandbox on TRADELANE_SANDBOX_HOST:TRADELANE_SANDBOX_PORT."""
    import uvicorn

    from devstack.up import sandbox_config
    from sandbox.app import create_app as create_sandbox_app

    settings = service_settings()
    uvicorn.run(create_sandbox_app(sandbox_config(settings)), host=settings.sandbox_host, port=settings.sandbox_port,
                log_config=None)


@app.command("temporal-cli")
def temporal_cli() -> None:
    """Find (or build) the Temporal CLI binary and print its path."""
    from devstack.devserver import find_cli

    path = find_cli()
    console.print(path or "none found: the SDK will download the dev server (needs the internet)")


@app.command()
def demo(keep: Annotated[bool, typer.Option(help="Keep the stack running after the demo.")] = False) -> None:
    """Start the stack, send the example shipments, approve, provoke a failure, and summarise."""
    from devstack.demo import run_demo

    raise typer.Exit(run_demo(keep=keep))


if __name__ == "__main__":
    app()
