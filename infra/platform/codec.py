"""Personal data in Temporal payloads, encrypted: an AES-GCM payload codec with rotatable keys, and its codec server.

Shipment requests carry names, e-mail addresses, phone numbers and street addresses. Temporal stores every workflow
and activity input and result in its history, so without a codec all of it sits in plaintext in the server's
database and in anything that reads histories (the Web UI, ``temporal workflow show``, exported histories).

The codec encrypts each whole payload (metadata and data) with AES-256-GCM under the ring's active key, and records
the key id in the encrypted payload's metadata. The key id is also the GCM associated data, so moving a payload
under another key id fails authentication instead of decrypting to garbage. A key rotation adds a new active id and
keeps the old ones, so histories written before it still decode.

The codec server (``codec_router``) lets the Temporal Web UI show decoded payloads: configure the UI's codec
endpoint as ``<api>/codec`` and it POSTs ``Payloads`` protobuf JSON to ``/codec/decode`` (and ``/codec/encode``
when an operator sends a signal or update from the UI).

The worker's converter refuses plaintext: a payload without the encryption metadata did not come from a Tradelane
process or through the codec server (both hold the keys and need an ops key), so it is never decoded into a workflow
input, signal or update. The codec marks it (`REFUSED_ENCODING`) instead of failing, because a codec error fails
the whole workflow task, which Temporal retries forever with the same history: one plaintext signal would wedge the
shipment. The marked payload fails in the payload converter instead (`RefusedPlaintext`), where the SDK drops a
signal (logging it), rejects an update, and fails a workflow started with it; a running workflow carries on.
"""

import base64
import binascii
import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import structlog
import temporalio.converter
import temporalio.exceptions
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.contrib.pydantic import PydanticPayloadConverter, pydantic_data_converter
from temporalio.converter import SerializationContext, WithSerializationContext

__all__ = ["ENCODING", "KEY_ID_HEADER", "REFUSED_ENCODING", "REFUSED_FROM_HEADER", "EncryptionCodec", "KeyRing",
           "RefusedPlaintext", "codec_router", "data_converter"]

ENCODING = b"binary/encrypted"
"""The `encoding` metadata of an encrypted payload (the name Temporal's encryption samples use)."""
KEY_ID_HEADER = "encryption-key-id"
"""Payload metadata naming the key a payload was encrypted with."""
REFUSED_ENCODING = b"binary/tradelane-refused-plaintext"
"""The `encoding` a refusing codec gives a payload that arrived unencrypted; no value is ever decoded from it."""
REFUSED_FROM_HEADER = "refused-encoding"
"""Metadata of a refused payload: the encoding it arrived with (its data is dropped)."""
KEY_BYTES = 32
"""AES-256."""
NONCE_BYTES = 12
"""GCM's standard nonce; random per payload, so a key may encrypt about 2**32 payloads before rotation."""
TAG_BYTES = 16

log = structlog.stdlib.get_logger(__name__)


class KeyRing:
    """Keys by id (32 bytes each) and the id new payloads use.

    Args:
        keys: Every key that may still be needed to decode a history, by key id.
        active_id: The key id new payloads are encrypted with; must be one of `keys`.

    Raises:
        ValueError: A key is not 32 bytes (naming its id), a key id is empty, or `active_id` is not in `keys`.
    """

    def __init__(self, keys: Mapping[str, bytes], active_id: str) -> None:
        for key_id, key in keys.items():
            _check_key(key_id, key, f"key id {key_id!r}")
        if active_id not in keys:
            raise ValueError(f"active key id {active_id!r} is not among the keys ({_ids(keys)})")
        self.active_id = active_id
        self._ciphers = MappingProxyType({key_id: AESGCM(bytes(key)) for key_id, key in keys.items()})

    @classmethod
    def from_settings(cls, keys: Mapping[str, SecretStr | str], active_id: str) -> "KeyRing":
        """The ring of `Settings.payload_keys` (base64 keys by id) and `Settings.payload_key_id`.

        Raises:
            ValueError: Naming `payload_keys[<id>]` for a key that is not base64 or not 32 bytes, or
                `payload_key_id` when it is not one of the ids.
        """
        decoded: dict[str, bytes] = {}
        for key_id, value in keys.items():
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            label = f"payload_keys[{key_id}]"
            try:
                decoded[key_id] = base64.b64decode(text.strip(), validate=True)
            except (binascii.Error, ValueError):
                # The message never quotes the value: it is a secret, and errors end up in logs.
                raise ValueError(f"{label}: not valid base64; expected the base64 of {KEY_BYTES} random bytes "
                                 f"(e.g. `openssl rand -base64 {KEY_BYTES}`)") from None
            _check_key(key_id, decoded[key_id], label)
        if active_id not in decoded:
            raise ValueError(f"payload_key_id {active_id!r} is not in payload_keys ({_ids(decoded)})")
        return cls(decoded, active_id)

    @property
    def key_ids(self) -> frozenset[str]:
        """Every key id the ring can decode."""
        return frozenset(self._ciphers)

    def cipher(self, key_id: str) -> AESGCM:
        """The cipher of `key_id`.

        Raises:
            ValueError: The ring has no key `key_id`.
        """
        try:
            return self._ciphers[key_id]
        except KeyError:
            raise ValueError(
                f"payload encrypted with key id {key_id!r}, which is not among the configured keys "
                f"({_ids(self._ciphers)}); a key must stay in TRADELANE_PAYLOAD_KEYS after a rotation for as long "
                f"as histories encrypted with it are kept") from None

    def __repr__(self) -> str:
        # Never the key material: a ring may end up in a log line or a traceback.
        return f"KeyRing(key_ids={sorted(self._ciphers)}, active_id={self.active_id!r})"


def _check_key(key_id: str, key: bytes, label: str) -> None:
    if not key_id:
        raise ValueError(f"{label}: a key id must not be empty")
    if len(key) != KEY_BYTES:
        raise ValueError(f"{label}: the key is {len(key)} bytes; AES-256-GCM needs exactly {KEY_BYTES}")


def _ids(keys: Mapping[str, Any]) -> str:
    return ", ".join(sorted(keys)) or "none"


class EncryptionCodec(temporalio.converter.PayloadCodec, WithSerializationContext):
    """AES-256-GCM over whole payloads, under the ring's active key; decodes any key still in the ring.

    Args:
        ring: The keys.
        refuse_plaintext: Mark unencrypted payloads as refused (`REFUSED_ENCODING`) instead of passing them
            through: what Tradelane's clients and workers do. The codec server passes them through, so the Web UI
            still shows what a plaintext signal in a history said.
        context: The workflow or activity being decoded for (set by the SDK through `with_context`; logged).
    """

    def __init__(self, ring: KeyRing, *, refuse_plaintext: bool = False,
                 context: SerializationContext | None = None) -> None:
        self.ring = ring
        self.refuse_plaintext = refuse_plaintext
        self.context = context

    def with_context(self, context: SerializationContext) -> "EncryptionCodec":
        return EncryptionCodec(self.ring, refuse_plaintext=self.refuse_plaintext, context=context)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt each payload with the active key and a fresh random nonce."""
        key_id = self.ring.active_id
        cipher = self.ring.cipher(key_id)
        associated = key_id.encode()
        encoded = []
        for payload in payloads:
            # Codecs run outside workflow code (client and worker side), so system randomness is right here.
            nonce = os.urandom(NONCE_BYTES)
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), associated)
            encoded.append(Payload(metadata={"encoding": ENCODING, KEY_ID_HEADER: associated}, data=nonce + sealed))
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt encrypted payloads; others are marked refused (`refuse_plaintext`) or pass through unchanged.

        Raises:
            ValueError: A payload's key id is not in the ring, or its data was tampered with or is truncated
                (naming the key id).
        """
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") == ENCODING:
                decoded.append(self._decode_one(payload))
            elif self.refuse_plaintext:
                decoded.append(self._refuse(payload))
            else:
                decoded.append(payload)
        return decoded

    def _refuse(self, payload: Payload) -> Payload:
        encoding = payload.metadata.get("encoding", b"")
        # The log names where it came in and how, never what it said (it may hold personal data).
        log.warning("unencrypted payload refused", workflow_id=getattr(self.context, "workflow_id", None),
                    encoding=encoding.decode("utf-8", errors="replace") or None, bytes=len(payload.data))
        return Payload(metadata={"encoding": REFUSED_ENCODING, REFUSED_FROM_HEADER: encoding})

    def _decode_one(self, payload: Payload) -> Payload:
        raw_id = payload.metadata.get(KEY_ID_HEADER)
        if raw_id is None:
            raise ValueError(f"encrypted payload has no {KEY_ID_HEADER!r} metadata; cannot tell which key to use")
        key_id = raw_id.decode("utf-8", errors="replace")
        cipher = self.ring.cipher(key_id)
        if len(payload.data) < NONCE_BYTES + TAG_BYTES:
            raise ValueError(f"encrypted payload (key id {key_id!r}) is {len(payload.data)} bytes, shorter than a "
                             f"nonce and tag; it was truncated or is not an encrypted payload")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, raw_id)
        except InvalidTag:
            raise ValueError(f"encrypted payload (key id {key_id!r}) failed authentication: it was altered, or "
                             f"encrypted with a different key under that id") from None
        try:
            return Payload.FromString(plain)
        except DecodeError as err:
            # Authenticated but not a payload: someone encrypted something else with our key.
            raise ValueError(f"encrypted payload (key id {key_id!r}) does not contain a Temporal payload: "
                             f"{err}") from None


class RefusedPlaintext(temporalio.exceptions.ApplicationError):
    """A payload arrived without Tradelane's encryption and was not decoded.

    A Temporal failure, non-retryable: where the SDK decodes a workflow's input, a failure error fails the workflow
    (a plaintext-started shipment ends at once) instead of failing the workflow task on every retry; a signal is
    dropped and an update rejected either way.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, type="RefusedPlaintext", non_retryable=True)


class _RefusedPayloadConverter(temporalio.converter.EncodingPayloadConverter):
    """The converter of refused payloads: encodes nothing, and decoding one raises `RefusedPlaintext`."""

    @property
    def encoding(self) -> str:
        return REFUSED_ENCODING.decode()

    def to_payload(self, value: Any) -> Payload | None:
        return None

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        sent_as = payload.metadata.get(REFUSED_FROM_HEADER, b"").decode("utf-8", errors="replace") or "no encoding"
        raise RefusedPlaintext(
            f"payload refused: it arrived unencrypted ({sent_as}), so it was not sent by Tradelane or through its "
            "codec server; decide a gate through the API (POST /v1/shipments/{id}/approvals) or send the signal "
            "or update through the codec server (temporal ... --codec-endpoint <api>/codec --codec-auth "
            "'Bearer <ops key>')")


class RefusingPayloadConverter(PydanticPayloadConverter):
    """The pydantic payload converter, which also knows refused payloads (and refuses to decode them)."""

    def __init__(self) -> None:
        super().__init__()
        self._set_converters(*self.converters.values(), _RefusedPayloadConverter())


def data_converter(ring: KeyRing | None) -> temporalio.converter.DataConverter:
    """The pydantic data converter, with payloads encrypted under `ring` and unencrypted ones refused (or in
    plaintext, refusing nothing, when `ring` is None)."""
    if ring is None:
        return pydantic_data_converter
    return dataclasses.replace(pydantic_data_converter, payload_converter_class=RefusingPayloadConverter,
                               payload_codec=EncryptionCodec(ring, refuse_plaintext=True))


def codec_router(codec: EncryptionCodec, dependencies: Sequence[Any] = ()) -> APIRouter:
    """The codec server the Temporal Web UI (and `temporal --codec-endpoint`) calls: `POST /codec/encode` and
    `POST /codec/decode`, each taking and returning `temporal.api.common.v1.Payloads` as protobuf JSON.

    Args:
        codec: The codec to apply.
        dependencies: FastAPI dependencies of both routes (authorisation: decoding reveals personal data).
    """
    router = APIRouter(prefix="/codec", tags=["codec"], dependencies=list(dependencies))

    async def apply(request: Request, action: str) -> Response:
        namespace = request.headers.get("x-namespace")
        try:
            payloads = _parse_payloads(await request.body())
        except ValueError as err:
            # The reason stays out of the log: a parser's message may quote part of the body.
            log.warning("codec request refused", action=action, namespace=namespace, code="INVALID_PAYLOADS")
            return _error(400, "INVALID_PAYLOADS", str(err))
        try:
            result = await (codec.encode if action == "encode" else codec.decode)(payloads.payloads)
        except ValueError as err:
            # The message names key ids, never key material or payload contents.
            log.warning("codec could not decode", action=action, namespace=namespace,
                        payloads=len(payloads.payloads), reason=str(err))
            return _error(422, "UNDECODABLE_PAYLOAD", str(err))
        log.info("codec request", action=action, namespace=namespace, payloads=len(result))
        return Response(json_format.MessageToJson(Payloads(payloads=result), indent=None),
                        media_type="application/json")

    @router.post("/encode", summary="Encrypt payloads (Temporal codec server)",
                 description="Encrypt `Payloads` (protobuf JSON) as the Web UI asks when an operator sends a signal "
                             "or an update; ops key only.")
    async def encode(request: Request) -> Response:
        return await apply(request, "encode")

    @router.post("/decode", summary="Decrypt payloads (Temporal codec server)",
                 description="Decrypt `Payloads` (protobuf JSON) for the Temporal Web UI to show; they hold "
                             "personal data, so an ops key only.")
    async def decode(request: Request) -> Response:
        return await apply(request, "decode")

    return router


def _parse_payloads(body: bytes) -> Payloads:
    """`Payloads` from its protobuf JSON; ValueError saying what is wrong (it may quote part of the body)."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"body is not JSON: {err}") from None
    # json_format.Parse would accept a bare list as an empty message; the UI always sends an object.
    if not isinstance(document, dict):
        raise ValueError(f'body must be a JSON object {{"payloads": [...]}}, got {type(document).__name__}')
    try:
        return json_format.ParseDict(document, Payloads())
    except json_format.ParseError as err:
        raise ValueError(f"body is not temporal.api.common.v1.Payloads JSON: {err}") from None


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"code": code, "message": message}})
