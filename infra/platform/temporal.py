"""The one way every Tradelane process talks to Temporal: the pydantic data converter with payloads encrypted
(AES-GCM, `infra/platform/codec.py`), over TLS or mTLS (or with a Temporal Cloud API key) when the settings say so,
plus the process's telemetry runtime and tracing interceptors when it has them."""

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from temporalio.client import Client, Interceptor
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from infra.platform.codec import KeyRing, data_converter
from infra.platform.settings import Settings, get_settings


def key_ring(settings: Settings) -> KeyRing:
    return KeyRing.from_settings(settings.payload_keys, settings.payload_key_id)


def converter_for(settings: Settings | None = None) -> DataConverter:
    """Pydantic models, encrypted: inputs, results, signals, updates, queries, memos and failure messages (which
    may quote a partner's answer) are unreadable in the server's history without the keys. A payload that arrives
    without Tradelane's encryption (a signal or update sent by a client without the keys) is refused, never decoded
    into a value (`infra.platform.codec.RefusedPlaintext`)."""
    converter = data_converter(key_ring(settings or get_settings()))
    return dataclasses.replace(converter, failure_converter_class=DefaultFailureConverterWithEncodedAttributes)


def tls_config(settings: Settings) -> TLSConfig | None:
    """The client's TLS settings (None: plaintext), with the PEM files read now.

    Raises:
        ValueError: A file cannot be read, naming its setting and path.
    """
    if not settings.temporal_uses_tls:
        return None
    return TLSConfig(
        server_root_ca_cert=_read_pem("TRADELANE_TEMPORAL_TLS_CA_CERT", settings.temporal_tls_ca_cert),
        domain=settings.temporal_tls_server_name,
        client_cert=_read_pem("TRADELANE_TEMPORAL_TLS_CLIENT_CERT", settings.temporal_tls_client_cert),
        client_private_key=_read_pem("TRADELANE_TEMPORAL_TLS_CLIENT_KEY", settings.temporal_tls_client_key))


def _read_pem(setting: str, path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as err:
        raise ValueError(f"{setting}: cannot read {path}: {err.strerror}") from None


async def connect(settings: Settings | None = None, *, address: str | None = None,
                  converter: DataConverter | None = None, runtime: Runtime | None = None,
                  interceptors: Sequence[Interceptor] = (), lazy: bool = False) -> Client:
    """A client of the settings' Temporal (address, namespace, TLS or mTLS, API key) with the encrypting pydantic
    converter, so models never come back as bare dicts and personal data never reaches the server in plaintext.

    Args:
        settings: The process's settings; the environment's by default.
        address: Another address of the same server (a harness's dev server on a free port).
        converter: Another converter (the settings' keys by default).
        runtime: The process's telemetry runtime.
        interceptors: Tracing interceptors.
        lazy: Connect at the first call instead of now (the API starts, and says it is not ready, while Temporal
            is away); such a call fails at once while the server cannot be reached.
    """
    settings = settings or get_settings()
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(address or settings.temporal_address, namespace=settings.temporal_namespace,
                                data_converter=converter or converter_for(settings), tls=tls_config(settings) or False,
                                api_key=api_key, runtime=runtime, interceptors=interceptors, lazy=lazy)
