"""Hostile and poisoned input during a reliability run: what an attacker or a bad value does to a live shipment.

- `submit_poison`: a request with control characters (CR/LF in `order_ref`, a NUL in the recipient's name) must be
  refused by the API with a 422 naming each field, and leave nothing behind: no workflow, no read-model row.
- `probe_events`: at a push partner's live delivery slot, a forged event (a new id signed with a wrong secret), a
  genuine event replayed outside the signature tolerance, and the same event replayed inside it (twice). The first
  two must be refused (401) and never reach the shipment; the replays are acknowledged and counted once.
- `poison_notice`: bypassing the API, a notification whose subject holds a line break is written straight into the
  shipment's outbox (as a value from before the API refused control characters would be); building its e-mail fails
  the same way every time, so it must end as one dead letter, not retry forever and keep the shipment open.
"""

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from infra.persistence.db import make_engine
from infra.persistence.outbox import Channel, OutboxMessage, enqueue
from infra.platform.webhooks import DEFAULT_TOLERANCE_S, signed_headers
from reliability.audit import ProbeResult, RefusalEvidence
from reliability.catalogue import POISON_FIELDS
from sandbox.context import Sandbox
from sandbox.models import TrackingEvent
from sandbox.records import RecordKind
from tradelane.connections import EventDelivery, event_delivery
from tradelane.keys import workflow_id
from tradelane.tracking_codes import EVENTS_PATH

WRONG_SECRET = "not-the-partners-secret-but-long-enough-to-look-real"
"""What a forger signs with: anything but the partner's own secret."""
POISON_SUBJECT = "Your parcel is on its way\r\nBcc: everyone@example.com"


async def submit_poison(body: dict[str, object], backend: httpx.AsyncClient, client: Client,
                        patience_s: float = 150.0) -> RefusalEvidence:
    """POST a poisoned request (again only while the API restarts, or answers 5xx with Temporal or its database
    away) and check that nothing was created."""
    shipment_id = str(body["shipment_id"])
    response: httpx.Response | None = None
    give_up = time.monotonic() + patience_s
    while time.monotonic() < give_up:
        try:
            response = await backend.post("/v1/shipments", json=body)
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code < 500:
            break
        await asyncio.sleep(1.0)
    if response is None:
        return RefusalEvidence(status=0, fields=[], nothing_created=False, detail="the API never answered")
    return RefusalEvidence(status=response.status_code, fields=_fields(response),
                           nothing_created=await _nothing_created(shipment_id, backend, client, give_up),
                           detail=response.text[:300])


def _fields(response: httpx.Response) -> list[str]:
    try:
        error = response.json().get("error", {})
    except ValueError:
        return []
    named = [str(f.get("field", "")) for f in error.get("fields") or []]
    return [field for field in POISON_FIELDS if any(field in name for name in named)]


async def _nothing_created(shipment_id: str, backend: httpx.AsyncClient, client: Client, give_up: float) -> bool:
    """No read-model row (the API's 404) and no workflow (Temporal's NOT_FOUND); asked again while either is away."""
    while True:
        try:
            status = (await backend.get(f"/v1/shipments/{shipment_id}")).status_code
        except httpx.TransportError:
            status = 0
        if status in (200, 404) or time.monotonic() > give_up:
            break
        await asyncio.sleep(1.0)
    if status != 404:
        return False
    while True:
        try:
            await client.get_workflow_handle(workflow_id(shipment_id)).describe(rpc_timeout=timedelta(seconds=5))
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return True
            if time.monotonic() > give_up:
                return False
            await asyncio.sleep(1.0)
            continue
        return False


async def pushed_event(sandbox: Sandbox, shipment_id: str) -> TrackingEvent | None:
    """The first event a push partner (`tracking: webhook`) emitted for one of the shipment's live slots or
    bookings, exactly as the sandbox posted it; None while there is none yet."""
    for record in await sandbox.store.records(shipment_id):
        if record.kind not in (RecordKind.SLOT, RecordKind.BOOKING):
            continue
        if event_delivery(record.partner) is not EventDelivery.WEBHOOK:
            continue
        events = await sandbox.store.record_events(record.partner, record.id)
        if events:
            return events[0]
    return None


def _wire(event: TrackingEvent) -> bytes:
    # The bytes the sandbox's player posts (`sandbox.playback.TrackingPlayer._deliver`).
    return json.dumps(event.model_dump(mode="json")).encode()


async def probe_events(sandbox: Sandbox, api: httpx.AsyncClient, event: TrackingEvent) -> list[ProbeResult]:
    """Forge and replay `event` against the API (see the module docstring); one result per attempt."""
    partner, secret = event.partner, sandbox.config.partner_secret(event.partner)
    now = int(datetime.now(UTC).timestamp())
    genuine = _wire(event)
    forged_event = event.model_copy(update={"event_id": f"{event.event_id}:forged"})
    attempts = [
        ("forged_signature", forged_event.event_id, _wire(forged_event), WRONG_SECRET, now, "401 INVALID_SIGNATURE"),
        ("replay_outside_tolerance", event.event_id, genuine, secret, now - DEFAULT_TOLERANCE_S - 120,
         "401 INVALID_SIGNATURE"),
        ("replay_inside_tolerance", event.event_id, genuine, secret, now, "202"),
        ("replay_again", event.event_id, genuine, secret, now, "202 duplicate"),
    ]
    results = []
    for probe, event_id, body, signing_secret, at, expected in attempts:
        headers = {"Authorization": f"Bearer {sandbox.config.partner_key(partner)}",
                   "Content-Type": "application/json", **signed_headers(signing_secret, event_id, at, body)}
        got = await _post(api, body, headers)
        results.append(ProbeResult(probe=probe, event_id=event_id, expected=expected, got=got,
                                   ok=got == expected or got.startswith(f"{expected} ")))
    return results


async def _post(api: httpx.AsyncClient, body: bytes, headers: dict[str, str]) -> str:
    """The answer as `<status>`, or `202 duplicate` for an event acknowledged as received before."""
    for _ in range(20):  # through an API restart
        try:
            response = await api.post(EVENTS_PATH, content=body, headers=headers)
        except httpx.TransportError:
            await asyncio.sleep(0.5)
            continue
        if response.status_code == 202 and response.json().get("duplicate"):
            return "202 duplicate"
        return f"{response.status_code} {_code(response)}".strip() if response.status_code != 202 else "202"
    return "no answer"


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", {}).get("code", ""))
    except ValueError:
        return ""


def poison_notice(db_url: str, shipment_id: str) -> str:
    """Write a notification whose e-mail cannot be built into the shipment's outbox; returns its id."""
    now = datetime.now(UTC)
    message = OutboxMessage(
        id=f"{shipment_id}:poison:email:customer", shipment_id=shipment_id, notice_id=f"{shipment_id}:poison",
        kind="in_transit", channel=Channel.EMAIL, audience="customer", recipient="poison@example.com",
        locale="en-GB", subject=POISON_SUBJECT, body_text="A value from before control characters were refused.",
        not_before=now, created_at=now)
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            enqueue(session, [message])
            session.commit()
    finally:
        engine.dispose()
    return message.id
