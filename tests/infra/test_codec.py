"""The AES-GCM payload codec: round trips, key rotation, refusals, the Web UI's codec server, and a real history
on the dev server in which no personal data is readable without the key."""

import base64
import logging
import uuid
from datetime import timedelta

from temporalio import activity, workflow

# The workflow below runs in Temporal's sandbox, which re-imports this module: everything but temporalio passes
# through, so the sandbox neither re-imports FastAPI or cryptography nor trips over what they do at import time.
with workflow.unsafe.imports_passed_through():
    import httpx
    import pytest
    from fastapi import Depends, FastAPI, HTTPException
    from google.protobuf import json_format
    from pydantic import BaseModel, SecretStr
    from temporalio.api.common.v1 import Payload, Payloads
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Worker

    from infra.platform.codec import (
        ENCODING,
        KEY_ID_HEADER,
        REFUSED_ENCODING,
        REFUSED_FROM_HEADER,
        EncryptionCodec,
        KeyRing,
        RefusedPlaintext,
        codec_router,
        data_converter,
    )
    from tests.support import load_example
    from tradelane.models import ShipmentRequest

KEY_OLD = bytes(range(32))
KEY_NEW = bytes(range(100, 132))
REQUEST = ShipmentRequest.model_validate(load_example("basic-cn-de.json", "SHP-CODEC-1"))
# The customer's personal data, as it appears in the example request.
PERSONAL = [REQUEST.destination.email, REQUEST.destination.phone, REQUEST.destination.name]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def ring(active: str = "k-2025", **extra: bytes) -> KeyRing:
    return KeyRing({"k-2025": KEY_OLD, **extra}, active)


def plain_payloads() -> list[Payload]:
    """Pydantic-converted payloads of the kinds a shipment history holds: a request full of personal data, a
    string, a number, None."""
    return data_converter(None).payload_converter.to_payloads([REQUEST, REQUEST.destination.email, 42, None])


# --- the codec ---------------------------------------------------------------------------------------------------

def test_personal_data_present_before_encryption():
    # Guards the next test: it would pass vacuously if the converter did not put these values in the payload.
    serialised = plain_payloads()[0].SerializeToString()
    assert [value.encode() in serialised for value in PERSONAL] == [True, True, True]


async def test_round_trip_hides_personal_data_and_restores_identical_payloads():
    codec = EncryptionCodec(ring())
    original = plain_payloads()

    encoded = await codec.encode(original)

    assert len(encoded) == len(original)
    for payload in encoded:
        assert dict(payload.metadata) == {"encoding": ENCODING, KEY_ID_HEADER: b"k-2025"}
        wire = payload.SerializeToString()
        assert [value for value in PERSONAL if value.encode() in wire] == []
        assert b"json/plain" not in wire  # the original metadata is encrypted too
    decoded = await codec.decode(encoded)
    assert [p.SerializeToString() for p in decoded] == [p.SerializeToString() for p in original]
    assert data_converter(None).payload_converter.from_payloads(decoded, [ShipmentRequest, str, int, type(None)]) \
        == [REQUEST, REQUEST.destination.email, 42, None]


async def test_every_encryption_uses_a_fresh_nonce():
    codec = EncryptionCodec(ring())
    payload = plain_payloads()[0]

    first, second = await codec.encode([payload, payload])

    assert first.data[:12] != second.data[:12]
    assert first.data != second.data
    assert await codec.decode([first, second]) == [payload, payload]


async def test_data_converter_encrypts_through_the_sdk_path():
    converter = data_converter(ring())

    encoded = await converter.encode([REQUEST])

    assert encoded[0].metadata["encoding"] == ENCODING
    assert REQUEST.destination.email.encode() not in encoded[0].data
    assert await converter.decode(encoded, [ShipmentRequest]) == [REQUEST]
    assert data_converter(None) is pydantic_data_converter


async def test_rotation_old_ids_still_decode_and_new_payloads_use_the_active_id():
    before = EncryptionCodec(ring())
    written_before = await before.encode(plain_payloads())

    after = EncryptionCodec(ring(active="k-2026", **{"k-2026": KEY_NEW}))
    written_after = await after.encode(plain_payloads())

    assert {p.metadata[KEY_ID_HEADER] for p in written_after} == {b"k-2026"}
    assert await after.decode(written_before) == plain_payloads()
    assert await after.decode(written_after) == plain_payloads()
    assert await after.decode([written_before[0], written_after[0]]) == [plain_payloads()[0]] * 2


async def test_a_key_dropped_from_the_ring_is_named_with_the_fix():
    written = await EncryptionCodec(ring(active="k-2024", **{"k-2024": KEY_NEW})).encode(plain_payloads()[:1])

    with pytest.raises(ValueError) as err:
        await EncryptionCodec(ring()).decode(written)

    assert "'k-2024'" in str(err.value)
    assert "must stay in TRADELANE_PAYLOAD_KEYS after a rotation" in str(err.value)
    assert "(k-2025)" in str(err.value)  # what the ring does have


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]


@pytest.mark.parametrize(("tamper", "says"), [
    (lambda p: Payload(metadata=p.metadata, data=_flip(p.data, 0)), "key id 'k-2025') failed authentication"),
    (lambda p: Payload(metadata=p.metadata, data=_flip(p.data, 20)), "key id 'k-2025') failed authentication"),
    (lambda p: Payload(metadata=p.metadata, data=_flip(p.data, len(p.data) - 1)),
     "key id 'k-2025') failed authentication"),
    (lambda p: Payload(metadata={**p.metadata, KEY_ID_HEADER: b"alias"}, data=p.data),
     "key id 'alias') failed authentication"),
    (lambda p: Payload(metadata=p.metadata, data=p.data[:20]), "key id 'k-2025') is 20 bytes"),
    (lambda p: Payload(metadata={"encoding": ENCODING}, data=p.data), "no 'encryption-key-id' metadata"),
], ids=["nonce-flipped", "ciphertext-flipped", "tag-flipped", "key-id-swapped-same-key", "truncated",
        "key-id-missing"])
async def test_tampered_payloads_are_refused_naming_the_key_id(tamper, says):
    # "alias" holds the same key bytes: only the key id bound as associated data tells them apart.
    codec = EncryptionCodec(ring(alias=KEY_OLD))
    [encrypted] = await codec.encode(plain_payloads()[:1])

    with pytest.raises(ValueError) as err:
        await codec.decode([tamper(encrypted)])

    assert says in str(err.value)


async def test_unencrypted_payloads_pass_through_unchanged():
    codec = EncryptionCodec(ring())
    legacy = plain_payloads()
    [encrypted] = await codec.encode(legacy[:1])
    raw = Payload(metadata={"encoding": b"binary/plain"}, data=b"\x00\x01")
    no_metadata = Payload(data=b"anything")

    decoded = await codec.decode([legacy[1], encrypted, raw, no_metadata])

    assert decoded == [legacy[1], legacy[0], raw, no_metadata]


async def test_a_refusing_codec_marks_unencrypted_payloads_and_keeps_nothing_of_them(caplog):
    """What Tradelane's own clients and workers use (finding, issue 18: a plaintext `decision` signal approved a
    gate): an unencrypted payload becomes a refused marker, its data gone, so no converter can decode it."""
    codec = EncryptionCodec(ring(), refuse_plaintext=True)
    legacy = plain_payloads()
    [encrypted] = await codec.encode(legacy[:1])

    decoded = await codec.decode([legacy[0], encrypted, Payload(data=b"anything")])

    assert decoded[1] == legacy[0]
    assert [(p.metadata["encoding"], p.metadata[REFUSED_FROM_HEADER], p.data) for p in (decoded[0], decoded[2])] == \
        [(REFUSED_ENCODING, b"json/plain", b""), (REFUSED_ENCODING, b"", b"")]
    refused = [r.msg for r in caplog.records if isinstance(r.msg, dict)
               and r.msg.get("event") == "unencrypted payload refused"]
    assert [e["encoding"] for e in refused] == ["json/plain", None]
    assert [value for value in PERSONAL if value in caplog.text] == []


async def test_the_data_converter_refuses_what_arrived_unencrypted_and_decodes_what_it_encrypted():
    converter = data_converter(ring())
    assert await converter.decode(await converter.encode([REQUEST]), [ShipmentRequest]) == [REQUEST]
    with pytest.raises(RefusedPlaintext, match=r"arrived unencrypted \(json/plain\).*POST /v1/shipments/\{id\}/"
                                               r"approvals.*--codec-endpoint"):
        await converter.decode(plain_payloads()[:1], [ShipmentRequest])


# --- the key ring ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("keys", "active", "says"), [
    ({"k1": b"x" * 16}, "k1", "key id 'k1': the key is 16 bytes; AES-256-GCM needs exactly 32"),
    ({"k1": KEY_OLD, "k2": b"x" * 33}, "k1", "key id 'k2': the key is 33 bytes"),
    ({"k1": KEY_OLD}, "k2", "active key id 'k2' is not among the keys (k1)"),
    ({}, "k1", "active key id 'k1' is not among the keys (none)"),
    ({"": KEY_OLD}, "", "a key id must not be empty"),
], ids=["short-key", "long-key", "active-not-listed", "no-keys", "empty-id"])
def test_key_ring_refuses_bad_keys(keys, active, says):
    with pytest.raises(ValueError) as err:
        KeyRing(keys, active)
    assert says in str(err.value)


@pytest.mark.parametrize(("keys", "active", "says"), [
    ({"k1": "not base64!"}, "k1", "payload_keys[k1]: not valid base64"),
    ({"k1": SecretStr("ÿÿÿÿ")}, "k1", "payload_keys[k1]: not valid base64"),
    ({"k1": SecretStr(b64(KEY_OLD)), "k2": b64(b"y" * 16)}, "k1",
     "payload_keys[k2]: the key is 16 bytes; AES-256-GCM needs exactly 32"),
    ({"k1": SecretStr(b64(KEY_OLD))}, "k9", "payload_key_id 'k9' is not in payload_keys (k1)"),
], ids=["not-base64", "non-ascii", "wrong-length", "active-not-listed"])
def test_key_ring_from_settings_names_the_setting(keys, active, says):
    with pytest.raises(ValueError) as err:
        KeyRing.from_settings(keys, active)
    assert says in str(err.value)
    assert "not base64!" not in str(err.value)  # a secret is never quoted back


async def test_key_ring_from_settings_decodes_base64_secrets_and_hides_them():
    from infra.platform.settings import DEV_PAYLOAD_KEY, DEV_PAYLOAD_KEY_ID

    from_settings = KeyRing.from_settings({DEV_PAYLOAD_KEY_ID: SecretStr(DEV_PAYLOAD_KEY), "k-old": b64(KEY_OLD)},
                                          DEV_PAYLOAD_KEY_ID)
    direct = KeyRing({DEV_PAYLOAD_KEY_ID: base64.b64decode(DEV_PAYLOAD_KEY)}, DEV_PAYLOAD_KEY_ID)

    assert (from_settings.active_id, from_settings.key_ids) == (DEV_PAYLOAD_KEY_ID, {DEV_PAYLOAD_KEY_ID, "k-old"})
    encrypted = await EncryptionCodec(from_settings).encode(plain_payloads()[:1])
    assert await EncryptionCodec(direct).decode(encrypted) == plain_payloads()[:1]
    assert DEV_PAYLOAD_KEY not in repr(from_settings) and "k-old" in repr(from_settings)


# --- the codec server --------------------------------------------------------------------------------------------

def codec_client(*dependencies) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(codec_router(EncryptionCodec(ring()), dependencies))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec")


def ui_body(payloads: list[Payload]) -> dict:
    """What the Web UI posts: protobuf JSON, metadata values and data in base64 (empty data left out)."""
    return {"payloads": [{"metadata": {k: b64(v) for k, v in p.metadata.items()}} | ({"data": b64(p.data)} if p.data
                                                                                      else {})
                         for p in payloads]}


async def test_codec_server_encodes_and_decodes_the_web_ui_json(caplog):
    caplog.set_level(logging.INFO, logger="infra.platform.codec")
    original = plain_payloads()
    async with codec_client() as http:
        encoded = await http.post("/codec/encode", json=ui_body(original), headers={"X-Namespace": "tradelane"})
        assert encoded.status_code == 200, encoded.text
        decoded = await http.post("/codec/decode", json=encoded.json(), headers={"X-Namespace": "tradelane"})

    assert [p["metadata"]["encoding"] for p in encoded.json()["payloads"]] == [b64(ENCODING)] * len(original)
    assert [value for value in PERSONAL if value in encoded.text] == []
    assert decoded.status_code == 200, decoded.text
    assert decoded.headers["content-type"] == "application/json"
    assert decoded.json() == ui_body(original)
    assert list(json_format.Parse(decoded.content, Payloads()).payloads) == original
    events = [r.msg for r in caplog.records if r.name == "infra.platform.codec"]
    assert [(e["action"], e["namespace"], e["payloads"]) for e in events] == [("encode", "tradelane", 4),
                                                                              ("decode", "tradelane", 4)]
    assert [value for value in PERSONAL if value in caplog.text] == []


async def test_codec_server_passes_an_empty_list_through():
    async with codec_client() as http:
        response = await http.post("/codec/decode", json={"payloads": []})
    assert (response.status_code, response.json()) == (200, {})  # protobuf JSON omits an empty repeated field


@pytest.mark.parametrize(("body", "says"), [
    (b"", "body is not JSON"),
    (b"\xff\xfe", "body is not JSON"),
    (b"[]", "body must be a JSON object"),
    (b'{"payload": []}', 'has no field named "payload"'),
    (b'{"payloads": "x"}', "repeated field payloads must be in []"),
    (b'{"payloads": [{"data": "a b"}]}', "Failed to parse data field"),
], ids=["empty", "not-utf8", "array", "unknown-field", "payloads-not-a-list", "data-not-base64"])
async def test_codec_server_refuses_malformed_bodies(body, says, caplog):
    caplog.set_level(logging.INFO, logger="infra.platform.codec")
    async with codec_client() as http:
        response = await http.post("/codec/decode", content=body, headers={"content-type": "application/json"})

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_PAYLOADS"
    assert says in error["message"]
    assert [r.msg["code"] for r in caplog.records if r.name == "infra.platform.codec"] == ["INVALID_PAYLOADS"]


async def test_codec_server_answers_422_for_a_payload_it_cannot_decode():
    foreign = await EncryptionCodec(KeyRing({"k-elsewhere": KEY_NEW}, "k-elsewhere")).encode(plain_payloads()[:1])
    [ours] = await EncryptionCodec(ring()).encode(plain_payloads()[:1])
    tampered = Payload(metadata=ours.metadata, data=_flip(ours.data, 30))
    async with codec_client() as http:
        unknown = await http.post("/codec/decode", json=ui_body(foreign))
        altered = await http.post("/codec/decode", json=ui_body([tampered]))

    assert unknown.status_code == altered.status_code == 422
    assert unknown.json()["error"]["code"] == altered.json()["error"]["code"] == "UNDECODABLE_PAYLOAD"
    assert "'k-elsewhere'" in unknown.json()["error"]["message"]
    assert "failed authentication" in altered.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/codec/encode", "/codec/decode"])
async def test_codec_server_dependencies_guard_both_routes(path):
    calls = []

    def ops_only() -> None:
        calls.append(path)
        raise HTTPException(status_code=403, detail="ops only")

    async with codec_client(Depends(ops_only)) as http:
        response = await http.post(path, json=ui_body(plain_payloads()))

    assert (response.status_code, response.json(), calls) == (403, {"detail": "ops only"}, [path])


# --- a real history --------------------------------------------------------------------------------------------

class Customer(BaseModel):
    name: str
    email: str


class Receipt(BaseModel):
    greeting: str
    email: str


@activity.defn(name="codec_test_compose_receipt")
async def compose_receipt(customer: Customer) -> Receipt:
    return Receipt(greeting=f"Hello {customer.name}", email=customer.email)


@workflow.defn(name="CodecTestWorkflow")
class ReceiptWorkflow:
    @workflow.run
    async def run(self, customer: Customer) -> Receipt:
        return await workflow.execute_activity(compose_receipt, customer,
                                               start_to_close_timeout=timedelta(seconds=10))


_EVENT_PAYLOADS = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: lambda e: e.workflow_execution_started_event_attributes.input,
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: lambda e: e.activity_task_scheduled_event_attributes.input,
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: lambda e: e.activity_task_completed_event_attributes.result,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: lambda e: e.workflow_execution_completed_event_attributes.result,
}


@pytest.mark.temporal
async def test_history_on_the_server_holds_only_ciphertext(temporal_client: Client):
    key_ring = ring()
    encrypted_client = Client(temporal_client.service_client, namespace=temporal_client.namespace,
                              data_converter=data_converter(key_ring))
    customer = Customer(name="Jonas Becker", email=f"jonas.{uuid.uuid4().hex[:8]}@example.de")
    task_queue = f"tq-codec-{uuid.uuid4().hex[:12]}"
    workflow_id = f"codec-test-{uuid.uuid4().hex[:12]}"

    async with Worker(encrypted_client, task_queue=task_queue, workflows=[ReceiptWorkflow],
                      activities=[compose_receipt]):
        result = await encrypted_client.execute_workflow(ReceiptWorkflow.run, customer, id=workflow_id,
                                                         task_queue=task_queue,
                                                         execution_timeout=timedelta(seconds=30))
    assert result == Receipt(greeting="Hello Jonas Becker", email=customer.email)

    # Read back by a client without the codec: what the server, the Web UI or `temporal workflow show` see.
    history = await temporal_client.get_workflow_handle(workflow_id).fetch_history()
    payloads = {event_type: list(get(event).payloads) for event in history.events
                for event_type, get in _EVENT_PAYLOADS.items() if event.event_type == event_type}
    assert sorted(payloads) == sorted(_EVENT_PAYLOADS)
    assert {event_type: [p.metadata["encoding"] for p in found] for event_type, found in payloads.items()} == \
        {event_type: [ENCODING] for event_type in _EVENT_PAYLOADS}
    as_json = history.to_json()
    assert customer.email not in as_json and "Jonas Becker" not in as_json

    codec, converter = EncryptionCodec(key_ring), pydantic_data_converter.payload_converter
    started = await codec.decode(payloads[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED])
    scheduled = await codec.decode(payloads[EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED])
    completed = await codec.decode(payloads[EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED])
    assert converter.from_payloads(started, [Customer]) == [customer]
    assert converter.from_payloads(scheduled, [Customer]) == [customer]
    assert converter.from_payloads(completed, [Receipt]) == [result]
