"""Reconciliation activities: the list ops see (record, resolve, a failed retry) and the scheduled comparison of
Tradelane's bookings with the partners' (`scan`).

The comparison asks every partner whose protocol can list bookings (Tradelane's dialect: `GET {base}/bookings`);
Karrio carriers and DCSA lines publish no such list, and the report names them as not compared.
"""

from datetime import UTC, datetime

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.http import PartnerGateway
from activities.protocols.tradelane_dialect import find_records
from infra.persistence import reconciliation as items
from infra.persistence.db import PartnerBookingRow, ShipmentRow
from tradelane.connections import PartnerProtocol, directory
from tradelane.enums import PartnerKind, Status
from tradelane.reconciliation import (
    DueRetries,
    ItemResolved,
    ItemRetryFailed,
    PartnerBooking,
    ReconciliationReport,
    RetryInput,
    ScanRequest,
    TradelaneBooking,
    compare,
    missing_key,
    orphan_key,
)
from tradelane.shipment.calls import PartnerCall
from tradelane.shipment.undo import ReconciliationItem, ReconciliationReason, undo_key

log = structlog.stdlib.get_logger(__name__)

BY = "reconciliation"
"""`resolved_by` of items a reconciliation no longer finds."""


def listable_carriers() -> tuple[list[str], list[str]]:
    """(carriers whose protocol lists bookings, carriers whose protocol does not)."""
    carriers = [c for c in directory().connections.values() if c.kind is PartnerKind.CARRIER]
    return ([c.name for c in carriers if c.protocol is PartnerProtocol.TRADELANE],
            [c.name for c in carriers if c.protocol is not PartnerProtocol.TRADELANE])


def tradelane_bookings(engine: Engine, partner: str) -> list[TradelaneBooking]:
    """Tradelane's bookings at `partner` (read model), each with its shipment's status."""
    with Session(engine) as session:
        rows = session.exec(select(PartnerBookingRow, ShipmentRow.status).join(
            ShipmentRow, ShipmentRow.shipment_id == PartnerBookingRow.shipment_id).where(  # type: ignore[arg-type]
            PartnerBookingRow.kind == "booking", PartnerBookingRow.partner == partner)).all()
    return [TradelaneBooking(partner=b.partner, ref=b.ref, shipment_id=b.shipment_id, state=b.state,
                             shipment_status=Status(status)) for b, status in rows]


class ReconciliationActivities:
    def __init__(self, engine: Engine, gateway: PartnerGateway) -> None:
        self._engine = engine
        self._partners = gateway

    @activity.defn(name="reconciliation.record")
    async def record(self, item: ReconciliationItem) -> int:
        """Put an item on the list (or update the one with its key and reason); returns its id."""
        row = items.record_item(self._engine, item)
        log.warning("reconciliation item", item_id=row.id, reason=item.reason, partner=item.partner,
                    operation=item.operation, shipment_id=item.shipment_id, partner_ref=item.partner_ref,
                    attempts=row.attempts)
        assert row.id is not None
        return row.id

    @activity.defn(name="reconciliation.resolve")
    async def resolve(self, done: ItemResolved) -> None:
        if items.resolve_item(self._engine, done.item_id, done.by) is None:
            raise ApplicationError(f"no reconciliation item {done.item_id}", type="NotFound", non_retryable=True)
        log.info("reconciliation item resolved", item_id=done.item_id, by=done.by)

    @activity.defn(name="reconciliation.retry_failed")
    async def retry_failed(self, failed: ItemRetryFailed) -> None:
        items.retry_failed(self._engine, failed.item_id, failed.error)
        log.warning("reconciliation retry failed", item_id=failed.item_id, error=failed.error)

    @activity.defn(name="reconciliation.due_retries")
    async def due_retries(self, request: DueRetries) -> list[RetryInput]:
        """The open `undo_failed` items a reconciliation runs again, least recently tried first."""
        return [RetryInput(item_id=row.id, operation=row.operation, call=row.call, requested_by=BY)
                for row in items.due_retries(self._engine, request.limit)
                if row.id is not None and row.call is not None]

    @activity.defn(name="reconciliation.scan")
    async def scan(self, request: ScanRequest) -> ReconciliationReport:
        """Compare every listable carrier's bookings with Tradelane's; file orphans and missing bookings, resolve
        the items of earlier runs that are gone, and log one line with the counts."""
        listable, unlisted = listable_carriers()
        report = ReconciliationReport(partners_unlisted=unlisted)
        now = datetime.now(UTC)
        for partner in listable:
            try:
                found = await find_records(self._partners, partner, "booking")
            except ApplicationError as err:
                report.partners_failed[partner] = err.message
                continue
            report.partners_checked.append(partner)
            theirs = [PartnerBooking(partner=partner, ref=f.id, shipment_id=f.shipment_id, state=f.state,
                                     idempotency_key=f.idempotency_key, created_at=f.created_at) for f in found]
            found_now = compare(partner, theirs, tradelane_bookings(self._engine, partner), now, request.grace)
            listed_refs, listed_keys = items.open_claims(self._engine, partner)
            for orphan in found_now.orphans:
                if orphan.ref in listed_refs or undo_key(orphan.idempotency_key) in listed_keys:
                    continue  # already on the list, from the saga that could not undo it

                key = orphan_key(partner, orphan.ref)
                call = PartnerCall(shipment_id=orphan.shipment_id, partner=partner, idempotency_key=key,
                                   ref=orphan.ref)
                items.record_item(self._engine, ReconciliationItem(
                    shipment_id=orphan.shipment_id, partner=partner, operation="carrier.cancel_booking",
                    idempotency_key=key, partner_ref=orphan.ref, reason=ReconciliationReason.ORPHAN,
                    error=f"{partner} holds booking {orphan.ref} ({orphan.state}, made {orphan.created_at.isoformat()} "
                          f"under {orphan.idempotency_key}) for no live Tradelane shipment",
                    call=call))
                report.orphans.append(f"{partner}:{orphan.ref}")
            for missing in found_now.missing:
                items.record_item(self._engine, ReconciliationItem(
                    shipment_id=missing.shipment_id, partner=partner, operation="carrier.book",
                    idempotency_key=missing_key(partner, missing.ref), partner_ref=missing.ref,
                    reason=ReconciliationReason.MISSING_AT_PARTNER,
                    error=f"shipment {missing.shipment_id} ({missing.shipment_status}) holds booking {missing.ref} "
                          f"that {partner} does not know"))
                report.missing.append(f"{partner}:{missing.ref}")
        checked = set(report.partners_checked)
        report.resolved = (
            items.resolve_vanished(self._engine, ReconciliationReason.ORPHAN, checked,
                                   {orphan_key(*o.split(":", 1)) for o in report.orphans}, BY)
            + items.resolve_vanished(self._engine, ReconciliationReason.MISSING_AT_PARTNER, checked,
                                     {missing_key(*m.split(":", 1)) for m in report.missing}, BY))
        log.info("reconciliation finished", checked=report.partners_checked, unlisted=report.partners_unlisted,
                 failed=sorted(report.partners_failed), orphans=len(report.orphans), missing=len(report.missing),
                 resolved=report.resolved, orphan_refs=report.orphans[:20], missing_refs=report.missing[:20])
        return report
