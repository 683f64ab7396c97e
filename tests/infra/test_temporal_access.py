"""Who may talk to Temporal: `connect()` over TLS and mTLS (or with a Temporal Cloud API key) from the settings, and
production refusing a plaintext connection to a Temporal server on another host.

The dev server has no TLS options (`temporal server start-dev --help` lists none), so the TLS tests put a
TLS-terminating proxy on loopback in front of it, as a load balancer or Temporal's own frontend TLS would: a Python
`ssl` server with a certificate from a CA made by `devstack.certs` (as the compose deployment's are), requiring a
client certificate from that CA (mTLS) and speaking HTTP/2 (ALPN h2) to the client; behind it, bytes go to the dev
server's plaintext port unchanged. Tradelane's client runs a real workflow through it, so the handshake, the
certificate checks and gRPC over TLS are all real; only the TLS terminator is not Temporal's own.
"""

import asyncio
import contextlib
import ssl
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.client import Client
    from temporalio.worker import Worker

    from devstack.certs import Authority
    from devstack.devserver import DevServer
    from infra.platform.settings import Settings
    from infra.platform.temporal import connect, tls_config
    from tests.infra.test_settings import PRODUCTION as SETTINGS_PRODUCTION

SERVER_NAME = "temporal.tradelane.internal"
"""The name in the frontend's certificate; the client reaches it by IP, so it checks this name instead."""

PRODUCTION = {**SETTINGS_PRODUCTION, "api_keys": [
    {"name": "shop", "role": "backend", "key": "x" * 40, "merchants": ["acme-store"]},
    {"name": "ops", "role": "ops", "key": "y" * 40}]}
"""A production configuration that passes every other check (the settings tests keep it current)."""


# --- settings ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("address", ["temporal:7233", "10.0.3.7:7233", "tradelane.a1b2c.tmprl.cloud:7233"])
def test_production_refuses_plaintext_to_a_temporal_server_on_another_host(address):
    """Finding (issue 18): the services reached Temporal in plaintext, with no way to configure TLS."""
    with pytest.raises(ValueError, match="TRADELANE_TEMPORAL_ADDRESS .* plaintext: in production set "
                                         "TRADELANE_TEMPORAL_TLS=true") as refused:
        Settings(_env_file=None, **PRODUCTION, temporal_address=address)
    assert "TRADELANE_TEMPORAL_API_KEY" in str(refused.value)


@pytest.mark.parametrize("tls", [
    {"temporal_tls": True},
    {"temporal_tls_ca_cert": "/run/secrets/temporal-ca.pem", "temporal_tls_client_cert": "/run/secrets/c.pem",
     "temporal_tls_client_key": "/run/secrets/c.key"},
    {"temporal_api_key": "a-temporal-cloud-api-key"},
], ids=["TLS with the system's roots", "mTLS", "Temporal Cloud API key"])
def test_production_reaches_a_remote_temporal_over_tls(tls):
    settings = Settings(_env_file=None, **PRODUCTION, temporal_address="temporal:7233", **tls)
    assert settings.temporal_uses_tls


@pytest.mark.parametrize("address", ["127.0.0.1:7233", "localhost:7233", "[::1]:7233"])
def test_production_may_reach_temporal_on_loopback_in_plaintext(address):
    """A sidecar or an SSH tunnel on the same host: nothing crosses a network."""
    assert not Settings(_env_file=None, **PRODUCTION, temporal_address=address).temporal_uses_tls


@pytest.mark.parametrize(("tls", "message"), [
    ({"temporal_tls_client_cert": "/c.pem"}, "TRADELANE_TEMPORAL_TLS_CLIENT_CERT and TRADELANE_TEMPORAL_TLS_CLIENT_KEY"
                                             " go together"),
    ({"temporal_tls": False, "temporal_api_key": "k"}, "TRADELANE_TEMPORAL_TLS is false but "
                                                        "TRADELANE_TEMPORAL_API_KEY is set"),
], ids=["a certificate without its key", "an API key with TLS turned off"])
def test_contradicting_tls_settings_fail_at_start_naming_them(tls, message):
    with pytest.raises(ValueError, match=message) as refused:
        Settings(_env_file=None, **tls)
    assert "'k'" not in str(refused.value)


def test_an_unreadable_certificate_file_is_named_with_its_setting(tmp_path):
    settings = Settings(_env_file=None, temporal_tls_ca_cert=tmp_path / "missing-ca.pem")
    with pytest.raises(ValueError, match="TRADELANE_TEMPORAL_TLS_CA_CERT: cannot read .*missing-ca.pem"):
        tls_config(settings)


def test_no_tls_settings_mean_a_plaintext_local_connection():
    assert tls_config(Settings(_env_file=None)) is None


# --- TLS and mTLS against a real server -------------------------------------------------------------------------

@dataclass
class TlsFrontend:
    """A TLS (mTLS) terminator on loopback in front of the dev server's plaintext gRPC port."""

    address: str
    clients: list[str]
    """The common names of the client certificates that completed a handshake."""


@contextlib.asynccontextmanager
async def tls_frontend(backend: str, ca: Authority) -> AsyncIterator[TlsFrontend]:
    cert, key = ca.issue(SERVER_NAME, server=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(ca.pem))
    context.load_cert_chain(cert, key)
    context.verify_mode = ssl.CERT_REQUIRED  # mTLS: no client certificate from this CA, no connection
    context.set_alpn_protocols(["h2"])
    backend_host, backend_port = backend.rsplit(":", 1)
    clients: list[str] = []
    pipes: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass  # the other side went away; closing below ends the other direction too
        finally:
            writer.close()

    async def serve(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        peer = client_writer.get_extra_info("peercert")
        clients.append(dict(entry[0] for entry in peer["subject"])["commonName"])
        server_reader, server_writer = await asyncio.open_connection(backend_host, int(backend_port))
        for task in (pipe(client_reader, server_writer), pipe(server_reader, client_writer)):
            pipes.add(asyncio.create_task(task))

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        yield TlsFrontend(address=f"127.0.0.1:{port}", clients=clients)
    finally:
        server.close()
        for task in pipes:
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)


@workflow.defn(name="TlsProbe")
class TlsProbe:
    @workflow.run
    async def run(self, name: str) -> str:
        return f"hello {name} over TLS"


@pytest.fixture
def ca(tmp_path: Path) -> Authority:
    return Authority("tradelane-temporal", tmp_path)


def tls_settings(namespace: str, ca: Authority, client: tuple[Path, Path] | None, **extra: object) -> Settings:
    values: dict[str, object] = {"temporal_namespace": namespace, "temporal_tls_ca_cert": ca.pem,
                                 "temporal_tls_server_name": SERVER_NAME}
    if client is not None:
        values.update(temporal_tls_client_cert=client[0], temporal_tls_client_key=client[1])
    return Settings(_env_file=None, **{**values, **extra})  # type: ignore[arg-type]


@pytest.mark.temporal
async def test_mtls_client_runs_a_workflow_through_a_tls_frontend(dev_server: DevServer, temporal_client: Client,
                                                                  ca: Authority):
    settings = tls_settings(temporal_client.namespace, ca, ca.issue("tradelane-worker", server=False),
                            temporal_api_key="a-temporal-cloud-api-key")
    async with tls_frontend(dev_server.address, ca) as frontend:
        client = await asyncio.wait_for(connect(settings, address=frontend.address), 60)
        task_queue = f"tq-tls-{uuid.uuid4().hex[:12]}"
        async with Worker(client, task_queue=task_queue, workflows=[TlsProbe]):
            result = await client.execute_workflow(TlsProbe.run, "ops", id=f"tls-{uuid.uuid4().hex[:12]}",
                                                   task_queue=task_queue, execution_timeout=timedelta(seconds=30))
    assert result == "hello ops over TLS"
    assert frontend.clients and set(frontend.clients) == {"tradelane-worker"}
    assert client.api_key == "a-temporal-cloud-api-key"  # sent as `authorization: Bearer` with every call


@pytest.mark.temporal
@pytest.mark.parametrize(("who", "error"), [
    ("no client certificate", "Failed client connect"),
    ("a certificate from another CA", "Failed client connect"),
    ("plaintext", "Failed client connect"),
    ("a client that does not trust the frontend's CA", "Failed client connect: .*UnknownIssuer"),
])
async def test_the_tls_frontend_refuses_clients_without_the_right_certificates(dev_server: DevServer,
                                                                               temporal_client: Client,
                                                                               ca: Authority, tmp_path: Path, who,
                                                                               error):
    namespace = temporal_client.namespace
    other = Authority("someone-else", tmp_path)
    settings = {
        "no client certificate": tls_settings(namespace, ca, None),
        "a certificate from another CA": tls_settings(namespace, ca, other.issue("intruder", server=False)),
        "plaintext": Settings(_env_file=None, temporal_namespace=namespace),
        "a client that does not trust the frontend's CA": tls_settings(
            namespace, ca, ca.issue("tradelane-api", server=False), temporal_tls_ca_cert=other.pem),
    }[who]
    async with tls_frontend(dev_server.address, ca) as frontend:
        with pytest.raises(RuntimeError, match=error):
            await asyncio.wait_for(connect(settings, address=frontend.address), 60)
    assert frontend.clients == []
