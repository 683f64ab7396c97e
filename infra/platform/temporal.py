"""The one way every Tradelane process talks to Temporal: the pydantic data converter with payloads encrypted
(AES-GCM, `infra/platform/codec.py`), plus the process's telemetry runtime and tracing interceptors when it has them."""

import dataclasses
from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import Runtime

from infra.platform.codec import KeyRing, data_converter
from infra.platform.settings import Settings, get_settings


def key_ring(settings: Settings) -> KeyRing:
    return KeyRing.from_settings(settings.payload_keys, settings.payload_key_id)


def converter_for(settings: Settings | None = None) -> DataConverter:
    """Pydantic models, encrypted: inputs, results, signals, updates, queries, memos and failure messages (which
    may quote a partner's answer) are unreadable in the server's history without the keys."""
    converter = data_converter(key_ring(settings or get_settings()))
    return dataclasses.replace(converter, failure_converter_class=DefaultFailureConverterWithEncodedAttributes)


async def connect(address: str, namespace: str = "default", *, converter: DataConverter | None = None,
                  runtime: Runtime | None = None, interceptors: Sequence[Interceptor] = ()) -> Client:
    """A client with the encrypting pydantic converter (the environment's keys unless `converter` is given), so
    models never come back as bare dicts and personal data never reaches the server in plaintext."""
    return await Client.connect(address, namespace=namespace, data_converter=converter or converter_for(),
                                runtime=runtime, interceptors=interceptors)
