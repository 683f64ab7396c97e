"""Receipts of partners' webhooks: a delivery seen before is acknowledged without reaching the workflow again.

The workflow drops repeated event ids anyway; the receipt keeps replays (a captured request sent again within the
signature's time tolerance, or a partner's retry) from growing the shipment's history, and catches an event id
reused for a different body. Written after the workflow was signalled, so a failure in between only means the
next retry signals again, which the workflow ignores.
"""

from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel


class WebhookReceiptRow(SQLModel, table=True):
    """Keyed by shipment, partner and event id, the scope in which the workflow drops repeats: partners number
    their events per booking, so one event id can belong to two shipments, or to two partners of one shipment.
    The partner is the caller's credential's, never the body's."""

    __tablename__ = "webhook_receipts"

    shipment_id: str = Field(primary_key=True, max_length=64)
    partner: str = Field(primary_key=True, max_length=64)
    event_id: str = Field(primary_key=True, max_length=200)
    body_sha256: str = Field(max_length=64)
    received_at: datetime


def receipt_of(engine: Engine, shipment_id: str, partner: str, event_id: str) -> WebhookReceiptRow | None:
    with Session(engine) as session:
        return session.get(WebhookReceiptRow, (shipment_id, partner, event_id))


def record_receipt(engine: Engine, receipt: WebhookReceiptRow) -> None:
    """Insert once; a concurrent delivery of the same event that got there first wins."""
    with Session(engine) as session:
        session.add(receipt)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
