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


async def retry_reconciliation(ops: httpx.AsyncClient, shipment_id: str, patience_s: float,
                               pause_s: float = 5.0) -> list[str]:
    """Retry every open reconciliation item of a shipment through the API until it is resolved, as ops do while
    its partner comes back (a retry that fails again leaves the item open, one attempt more); returns what happened,
    item by item."""
    notes: list[str] = []
    give_up = time.monotonic() + patience_s
    while True:  # through an API restart, or its database locked
        try:
            listed = await ops.get(RECONCILIATION_PATH, params={"state": "open"})
            if listed.status_code == 200:
                break
            problem = f"HTTP {listed.status_code} {listed.text[:200]}"
        except httpx.TransportError as err:
            problem = type(err).__name__
        if time.monotonic() > give_up:
            return [f"listing failed: {problem}"]
        await asyncio.sleep(pause_s)
    for item in [i for i in listed.json().get("items", []) if i.get("shipment_id") == shipment_id]:
        item_id, retries, state = item["id"], 0, "open"
        while state != "resolved" and time.monotonic() < give_up:
            try:
                response = await ops.post(f"{RECONCILIATION_PATH}/{item_id}/retry")
                if response.status_code == 202:
                    retries += 1
                elif response.status_code in (503, 429):  # Temporal away, or a limit: again after Retry-After
                    notes.append(f"item {item_id}: retry answered {response.status_code}; asked again")
                    await asyncio.sleep(_retry_after(response, pause_s))
                    continue
                elif response.status_code != 409:  # 409: a retry of it still runs
                    notes.append(f"item {item_id}: retry refused: HTTP {response.status_code} {response.text[:200]}")
                    break
                state = await _wait_resolved(ops, item_id, give_up)
            except httpx.TransportError:
                pass  # the API restarting: ask again
            if state != "resolved":
                await asyncio.sleep(pause_s)
        notes.append(f"item {item_id} ({item.get('reason')} at {item.get('partner')}): {retries} retries, {state}")
    return notes


def _retry_after(response: httpx.Response, default_s: float) -> float:
    """The answer's `Retry-After` in seconds (the API sends whole seconds), else `default_s`."""
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else default_s


async def _wait_resolved(ops: httpx.AsyncClient, item_id: int, give_up: float, look_for_s: float = 30.0) -> str:
    """The item's state once its retry had time to run (resolved as soon as it is)."""
    until = min(give_up, time.monotonic() + look_for_s)
    state = "open"
    while time.monotonic() < until:
        try:
            seen = await ops.get(f"{RECONCILIATION_PATH}/{item_id}")
        except httpx.TransportError:
            await asyncio.sleep(1.0)
            continue
        state = seen.json().get("state", "?") if seen.status_code == 200 else f"HTTP {seen.status_code}"
        if state == "resolved":
            break
        await asyncio.sleep(1.0)
    return state
