"""The demo merchants' webhook receiver, as a merchant would run it: verify, deduplicate, record.

It plays every merchant at one URL: ``Tradelane-Merchant`` says whose delivery it is, and it is verified with that
merchant's own secret only, so a delivery signed with another merchant's secret is refused. Tradelane delivers at
least once, so the receiver drops repeats by ``Tradelane-Event-Id``; it refuses unsigned, tampered or stale
deliveries with 401. ``POST /_merchant/fail`` makes the next deliveries fail, to exercise retries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, Field

from infra.platform.webhooks import (
    EVENT_ID_HEADER,
    MERCHANT_HEADER,
    SIGNATURE_HEADER,
    WebhookSignatureError,
    verify,
)
from sandbox.context import SandboxDep
from sandbox.errors import ErrorCode, SandboxError, status_code_name

router = APIRouter(tags=["merchant"])

INVALID_SIGNATURE = "INVALID_SIGNATURE"


class ReceivedEvent(BaseModel):
    """One distinct event the merchant received."""

    event_id: str
    merchant_id: str
    """The merchant it was delivered to (its secret verified it)."""
    shipment_id: str | None
    """The payload's ``shipment_id``, when it has one."""
    payload: dict[str, Any]
    received_at: datetime
    deliveries: int = 1
    """How many times it arrived (1 + its duplicates)."""


@dataclass
class MerchantReceiver:
    """The receiver's in-memory state, one per sandbox app (``app.state.merchant``)."""

    events: dict[str, ReceivedEvent] = field(default_factory=dict)
    """By event id, in arrival order."""
    fail_times: int = 0
    fail_status: int = 503

    def duplicates(self, shipment_id: str | None = None, merchant_id: str | None = None) -> int:
        """Repeated deliveries of events (of one shipment or merchant, when given)."""
        return sum(e.deliveries - 1 for e in self.of(shipment_id, merchant_id))

    def of(self, shipment_id: str | None, merchant_id: str | None = None) -> list[ReceivedEvent]:
        """Events of one shipment or merchant, or all."""
        return [e for e in self.events.values()
                if shipment_id in (None, e.shipment_id) and merchant_id in (None, e.merchant_id)]


def get_merchant(request: Request) -> MerchantReceiver:
    """FastAPI dependency returning the app's `MerchantReceiver`."""
    merchant: MerchantReceiver = request.app.state.merchant
    return merchant


MerchantDep = Annotated[MerchantReceiver, Depends(get_merchant)]


class WebhookAck(BaseModel):
    """Response of ``POST /merchant/webhooks``."""

    event_id: str
    duplicate: bool


class MerchantInspectOut(BaseModel):
    """Response of ``GET /_inspect/merchant-webhooks``."""

    shipment_id: str | None
    events: list[ReceivedEvent]
    duplicates: int


class FailSwitch(BaseModel):
    """Body and response of ``POST /_merchant/fail``."""

    times: int = Field(ge=0)
    """The next this-many deliveries fail; 0 switches failures off."""
    status: int = Field(default=503, ge=400, le=599)


@router.post("/merchant/webhooks", response_model=WebhookAck)
async def receive_webhook(
    request: Request,
    sb: SandboxDep,
    merchant: MerchantDep,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
    event_id: Annotated[str | None, Header(alias=EVENT_ID_HEADER)] = None,
    merchant_id: Annotated[str | None, Header(alias=MERCHANT_HEADER)] = None,
) -> WebhookAck:
    """Verifies the signature over the raw body with the merchant's own secret, then records the event once per
    event id."""
    if merchant.fail_times > 0:
        merchant.fail_times -= 1
        raise SandboxError(merchant.fail_status, status_code_name(merchant.fail_status),
                           f"merchant receiver: injected failure ({merchant.fail_times} more to come)")
    body = await request.body()
    if not merchant_id:
        raise SandboxError(401, INVALID_SIGNATURE, f"{MERCHANT_HEADER} header is missing: it names the merchant whose "
                           "secret the delivery is signed with")
    try:
        verify(sb.config.merchant_secrets(merchant_id), signature, body, now=int(sb.clock.now().timestamp()))
    except WebhookSignatureError as exc:
        raise SandboxError(401, INVALID_SIGNATURE, str(exc)) from exc
    if not event_id:
        raise SandboxError(400, ErrorCode.INVALID_REQUEST, f"{EVENT_ID_HEADER} header is missing")
    known = merchant.events.get(event_id)
    if known is not None:
        known.deliveries += 1
        return WebhookAck(event_id=event_id, duplicate=True)
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise SandboxError(400, ErrorCode.INVALID_REQUEST, f"body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise SandboxError(400, ErrorCode.INVALID_REQUEST, f"body must be a JSON object, got {type(payload).__name__}")
    shipment_id = payload.get("shipment_id")
    merchant.events[event_id] = ReceivedEvent(event_id=event_id, merchant_id=merchant_id, payload=payload,
                                              received_at=sb.clock.now(),
                                              shipment_id=shipment_id if isinstance(shipment_id, str) else None)
    return WebhookAck(event_id=event_id, duplicate=False)


@router.get("/_inspect/merchant-webhooks", response_model=MerchantInspectOut)
async def inspect_merchant_webhooks(
    merchant: MerchantDep, shipment_id: Annotated[str | None, Query()] = None,
    merchant_id: Annotated[str | None, Query()] = None,
) -> MerchantInspectOut:
    """Lists the distinct events received (of one shipment or merchant, or all) and how many repeats were
    dropped."""
    return MerchantInspectOut(shipment_id=shipment_id, events=merchant.of(shipment_id, merchant_id),
                              duplicates=merchant.duplicates(shipment_id, merchant_id))


@router.post("/_merchant/fail", response_model=FailSwitch)
async def fail_next(body: FailSwitch, merchant: MerchantDep) -> FailSwitch:
    """Makes the next `times` deliveries answer `status` (before any verification, like a server that is down)."""
    merchant.fail_times, merchant.fail_status = body.times, body.status
    return body
