"""Inspection and control routes: records, fault rules, health."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status
from pydantic import BaseModel, TypeAdapter, ValidationError

from sandbox.context import SandboxDep
from sandbox.errors import ErrorCode, SandboxError
from sandbox.faults import ActiveRule, FaultRule
from sandbox.models import Health, InspectOut, InspectRecord
from sandbox.records import Record

router = APIRouter(tags=["control"])


class FaultRules(BaseModel):
    """Response of ``GET /_faults`` and ``POST /_faults``."""

    rules: list[ActiveRule]


class FaultsCleared(BaseModel):
    """Response of ``DELETE /_faults``."""

    removed: int


def inspect_record(record: Record) -> InspectRecord:
    """Returns the inspection view of any record."""
    return InspectRecord(
        kind=record.kind,
        partner=record.partner,
        id=record.id,
        shipment_id=record.shipment_id,
        state=record.state,
        idempotency_key=record.idempotency_key,
        created_at=record.created_at,
        history=record.history,
    )


@router.get("/_inspect/bookings", response_model=InspectOut)
async def inspect_records(sb: SandboxDep, shipment_id: Annotated[str | None, Query()] = None) -> InspectOut:
    """Lists every record (bookings, labels, filings, slots) of a shipment, or of all shipments."""
    records = await sb.store.records(shipment_id)
    return InspectOut(shipment_id=shipment_id, records=[inspect_record(r) for r in records])


@router.get("/_faults", response_model=FaultRules)
async def list_faults(sb: SandboxDep) -> FaultRules:
    """Lists the active fault rules in matching order (config rules first)."""
    return FaultRules(rules=sb.faults.rules())


_RULE_LIST = TypeAdapter(list[FaultRule])


@router.post("/_faults", response_model=FaultRules, status_code=status.HTTP_201_CREATED)
async def add_faults(sb: SandboxDep, body: Annotated[Any, Body()]) -> FaultRules:
    """Adds one rule or a list of rules at runtime, after the existing ones.

    The body is validated here rather than by FastAPI so that errors read ``[1].kind: ...``
    instead of naming pydantic's internal union branches.
    """
    try:
        rules = _RULE_LIST.validate_python(body if isinstance(body, list) else [body])
    except ValidationError as exc:
        raise SandboxError(
            422,
            ErrorCode.INVALID_REQUEST,
            "; ".join(f"{_where(body, e['loc'])}: {e['msg']}" for e in exc.errors()),
        ) from exc
    return FaultRules(rules=sb.faults.add(rules))


def _where(body: Any, loc: tuple[int | str, ...]) -> str:
    # loc starts with the list index; a single-rule body has no index worth showing.
    index, *rest = loc
    path = ".".join(map(str, rest)) or "rule"
    return f"[{index}].{path}" if isinstance(body, list) else path


@router.delete("/_faults", response_model=FaultsCleared)
async def clear_faults(sb: SandboxDep) -> FaultsCleared:
    """Removes the rules added at runtime; rules from the config file stay."""
    return FaultsCleared(removed=sb.faults.clear_runtime())


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """Liveness probe."""
    return Health()
