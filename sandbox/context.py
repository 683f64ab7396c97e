"""The per-app sandbox state and the admission step every partner call goes through.

Admission order: partner known -> operation supported -> Idempotency-Key present (when the
operation needs one) -> fault header or fault rules. Only an admitted call may read or change
records, so a faulted or rejected call never leaves a trace in the store.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import httpx
import structlog
from fastapi import Depends, Header, Request, Response, status
from pydantic import BaseModel, ConfigDict

from sandbox.aftermath import defer
from sandbox.clock import Clock
from sandbox.config import SandboxConfig
from sandbox.errors import ErrorCode, SandboxError
from sandbox.faults import FAULT_HEADER, FaultBook, FaultContext, FaultRule, effect_of, parse_fault_header
from sandbox.models import OptionalShipmentBody
from sandbox.partners import OPERATIONS_BY_KIND, PARTNERS, Operation, Partner
from sandbox.playback import TrackingPlayer, WebhookSigning
from sandbox.records import Record, RecordKind
from sandbox.store import SandboxStore

log = structlog.get_logger(__name__)

KEYED_OPERATIONS: frozenset[Operation] = frozenset(
    {Operation.BOOK, Operation.LABEL, Operation.FILE, Operation.SCHEDULE}
)
"""Operations that create records and therefore require an ``Idempotency-Key`` header."""

IDEMPOTENCY_HEADER = "Idempotency-Key"


class CallHeaders(BaseModel):
    """The request headers the sandbox cares about."""

    idempotency_key: str | None = None
    fault: str | None = None
    """Raw ``X-Sandbox-Fault`` header value."""


def call_headers(
    idempotency_key: Annotated[str | None, Header(alias=IDEMPOTENCY_HEADER)] = None,
    fault: Annotated[str | None, Header(alias=FAULT_HEADER)] = None,
) -> CallHeaders:
    """FastAPI dependency collecting `CallHeaders`."""
    return CallHeaders(idempotency_key=idempotency_key, fault=fault)


class Admission(BaseModel):
    """What an admitted call may rely on."""

    model_config = ConfigDict(frozen=True)

    partner: Partner
    idempotency_key: str = ""
    """Non-empty for `KEYED_OPERATIONS`."""
    hold_reason: str | None = None
    """Set when a ``hold`` fault fired: the filing must be created on hold."""
    scenario: str | None = None
    """Set when a ``scenario`` fault fired: the tracking scenario variant to play."""


class Sandbox:
    """Store, fault rules, tracking player and clock of one sandbox app.

    Args:
        config: Validated settings.
        clock: Time source.
        http: Client for tracking callbacks; None lets the player create its own.
    """

    def __init__(self, config: SandboxConfig, clock: Clock, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.clock = clock
        self.started_monotonic = clock.monotonic()
        self.store = SandboxStore(clock)
        self.faults = FaultBook(config.faults)
        self.player = TrackingPlayer(
            self.store,
            seconds_per_day=config.seconds_per_day,
            callback_timeout_s=config.callback_timeout_s,
            retries=config.callback_retries,
            backoff_s=config.callback_backoff_s,
            http=http,
            signing=WebhookSigning(secret=config.partner_secret, api_key=config.partner_key, clock=clock),
        )

    def elapsed_s(self) -> float:
        """Seconds since the sandbox started (what outage windows are measured in)."""
        return self.clock.monotonic() - self.started_monotonic

    async def admit(
        self,
        partner_name: str,
        operation: Operation,
        shipment_id: str,
        headers: CallHeaders,
    ) -> Admission:
        """Admits a partner call, or raises the error the call must answer with.

        Args:
            partner_name: Partner from the URL.
            operation: What the call does.
            shipment_id: The call's shipment ("" when unknown), matched by fault rules.
            headers: Idempotency and fault headers.

        Raises:
            SandboxError: For unknown partners, unsupported operations, a missing
                Idempotency-Key, a malformed fault header, or an injected fault.
        """
        partner = resolve_partner(partner_name, operation)
        key = (headers.idempotency_key or "").strip()
        if operation in KEYED_OPERATIONS and not key:
            raise SandboxError(
                400,
                ErrorCode.IDEMPOTENCY_KEY_REQUIRED,
                f"{operation} creates a record: send an {IDEMPOTENCY_HEADER} header, stable across retries",
            )
        rule: FaultRule | None
        if headers.fault is not None:
            rule = parse_fault_header(headers.fault, operation)
        else:
            ctx = FaultContext(partner=partner.name, operation=operation, shipment_id=shipment_id)
            rule = self.faults.select(ctx, self.elapsed_s())
        if rule is None:
            return Admission(partner=partner, idempotency_key=key)
        effect = effect_of(rule, self.config.timeout_fault_seconds)
        log.info(
            "fault_injected",
            partner=partner.name,
            operation=str(operation),
            shipment_id=shipment_id,
            kind=str(rule.kind),
            from_header=headers.fault is not None,
        )
        if effect.sleep_s > 0:
            await asyncio.sleep(effect.sleep_s)
        if effect.error is not None:
            raise effect.error
        defer(effect)
        return Admission(partner=partner, idempotency_key=key, hold_reason=effect.hold_reason,
                         scenario=effect.scenario)


def resolve_partner(name: str, operation: Operation) -> Partner:
    """Returns the partner, or raises 404 if it is unknown or cannot do ``operation``."""
    partner = PARTNERS.get(name)
    if partner is None:
        raise SandboxError(
            404, ErrorCode.UNKNOWN_PARTNER, f"no partner {name!r}; known: {', '.join(sorted(PARTNERS))}"
        )
    if operation not in OPERATIONS_BY_KIND[partner.kind]:
        raise SandboxError(
            404,
            ErrorCode.OPERATION_NOT_SUPPORTED,
            f"{name} is a {partner.kind} partner and does not support '{operation}'",
        )
    return partner


async def shipment_of(
    sb: Sandbox, kind: RecordKind, partner: str, record_id: str, body: OptionalShipmentBody | None
) -> str:
    """Returns the shipment_id to match fault rules against for a call that needs no body.

    The record's own shipment wins; an optional body's is the fallback for unknown ids, and ""
    (matching only ``*`` rules) when neither is known.
    """
    record = await sb.store.get(kind, partner, record_id)
    if record is not None:
        return record.shipment_id
    return (body.shipment_id if body else None) or ""


async def close_record(
    sb: Sandbox,
    headers: CallHeaders,
    kind: RecordKind,
    operation: Operation,
    partner: str,
    record_id: str,
    body: OptionalShipmentBody | None,
) -> Record:
    """Cancels, voids, withdraws or releases a record: faults first, then the idempotent state change.

    Stops the record's tracking playback too, where one runs (a no-op for records without one).
    """
    shipment_id = await shipment_of(sb, kind, partner, record_id, body)
    await sb.admit(partner, operation, shipment_id, headers)
    record = await sb.store.transition(operation, partner, record_id)
    sb.player.stop(record_id)
    return record


def mark_replay(response: Response, created: bool) -> None:
    """Answers 200 instead of 201 when an idempotent request replayed an existing record."""
    if not created:
        response.status_code = status.HTTP_200_OK


def get_sandbox(request: Request) -> Sandbox:
    """FastAPI dependency returning the app's `Sandbox`."""
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]
HeadersDep = Annotated[CallHeaders, Depends(call_headers)]
