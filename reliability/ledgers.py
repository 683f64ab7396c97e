"""The run's ledgers at the end: every dead letter (`dead_letters`) and reconciliation item (`reconciliation_items`)
in the read model, read as `reliability.audit.LedgerItem`s, and the ops side of the reconciliation list: retrying an
item once its partner is back, as ops would.

The tables belong to `infra.persistence.dead_letters` and `infra.persistence.reconciliation`; a table that cannot
be read (its module or migration not there) is reported by name, and the run fails with that error rather than
counting zero.
"""

import asyncio
import importlib
import time
from typing import Any

import httpx
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlmodel import Session, select

from infra.persistence.db import make_engine
from reliability.audit import LedgerItem, LedgerTable

LEDGERS: dict[LedgerTable, tuple[str, str]] = {
    "dead_letters": ("infra.persistence.dead_letters", "DeadLetterRow"),
    "reconciliation_items": ("infra.persistence.reconciliation", "ReconciliationRow"),
}
"""Each ledger table and the row class that maps it (module, class)."""

RECONCILIATION_PATH = "/v1/ops/reconciliation"


class LedgerMissing(RuntimeError):
    """A ledger table cannot be read: its row class or its table is not there."""


def row_class(table: LedgerTable) -> Any:
    """The SQLModel row class of `table`.

    Raises:
        LedgerMissing: When its module or class does not exist (the feature has not landed).
    """
    module_name, class_name = LEDGERS[table]
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as err:
        raise LedgerMissing(f"{table}: {module_name}.{class_name} is not there ({err}); the run cannot tell what "
                            "was dead-lettered or reconciled") from err


def _item(table: LedgerTable, row: Any) -> LedgerItem:
    if table == "dead_letters":
        return LedgerItem(table=table, id=row.id, shipment_id=row.shipment_id, kind=row.kind,
                          state="resolved" if row.resolved_at is not None else "open",
                          detail=f"{row.message_key}: {row.error_type}: {row.error}")
    return LedgerItem(table=table, id=row.id, shipment_id=row.shipment_id, kind=row.reason, partner=row.partner,
                      state=row.state, detail=f"{row.operation} {row.partner_ref or ''}: {row.last_error or ''}")


def read_ledgers(db_url: str) -> tuple[list[LedgerItem], list[str]]:
    """Every item of both ledgers, and the names of the ledgers that could not be read (with why)."""
    items: list[LedgerItem] = []
    missing: list[str] = []
    engine = make_engine(db_url)
    try:
        for table in LEDGERS:
            try:
                cls = row_class(table)
                with Session(engine) as session:
                    items += [_item(table, row) for row in session.exec(select(cls))]
            except LedgerMissing:
                missing.append(table)
            except (OperationalError, ProgrammingError):  # the table itself is missing (migration not there)
                missing.append(table)
    finally:
        engine.dispose()
    return items, missing


async def retry_reconciliation(ops: httpx.AsyncClient, shipment_id: str, patience_s: float = 60) -> list[str]:
    """Retry every open reconciliation item of a shipment through the API, as ops do once the partner is back, and
    wait for each to be resolved; returns what happened, item by item."""
    notes: list[str] = []
    try:
        listed = await ops.get(RECONCILIATION_PATH, params={"state": "open"})
    except httpx.TransportError as err:
        return [f"listing failed: {type(err).__name__}"]
    if listed.status_code != 200:
        return [f"listing failed: HTTP {listed.status_code} {listed.text[:200]}"]
    items = [i for i in listed.json().get("items", []) if i.get("shipment_id") == shipment_id]
    for item in items:
        item_id = item["id"]
        response = await ops.post(f"{RECONCILIATION_PATH}/{item_id}/retry")
        if response.status_code not in (202, 409):
            notes.append(f"item {item_id}: retry refused: HTTP {response.status_code} {response.text[:200]}")
            continue
        give_up = time.monotonic() + patience_s
        state = "open"
        while time.monotonic() < give_up:
            seen = await ops.get(f"{RECONCILIATION_PATH}/{item_id}")
            state = seen.json().get("state", "?") if seen.status_code == 200 else f"HTTP {seen.status_code}"
            if state == "resolved":
                break
            await asyncio.sleep(1.0)
        notes.append(f"item {item_id} ({item.get('reason')} at {item.get('partner')}): retried, {state}")
    return notes
