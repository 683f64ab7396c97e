"""A shipment's tracking timeline and its notifications, for readers of the API.

Both read the read model, which the workflow keeps up to date: they work while no worker runs and for shipments
long closed. Another merchant's shipment is answered 404, as a missing one.
"""

from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel
from sqlmodel import Session, col, select

from infra.persistence.db import ShipmentRow, TrackingEventRow
from infra.persistence.outbox import messages_of
from starter.auth import Caller, Reader
from starter.deps import EngineDep
from starter.errors import ApiError
from tradelane.enums import TrackingStatus

router = APIRouter(tags=["visibility"])


class EtaView(BaseModel):
    expected: date
    earliest: date
    latest: date


class EventView(BaseModel):
    event_id: str
    partner: str
    code: str
    status: TrackingStatus
    description: str
    location: str
    occurred_at: datetime
    via: str
    """`webhook` or `poll`."""
    received_seq: int


class TimelineView(BaseModel):
    """`GET /v1/shipments/{id}/events`: the tracking timeline, oldest first, with the ETA and open exceptions."""

    shipment_id: str
    tracking_number: str | None
    stage: str
    status: str
    eta: EtaView | None
    promised_date: date | None
    open_exceptions: list[str]
    events: list[EventView]


class NotificationView(BaseModel):
    """One outbox message: what was (or will be) sent, to whom (masked), and how delivery went."""

    id: str
    kind: str
    channel: str
    audience: str
    recipient: str
    """E-mail addresses are masked (`j***@example.de`): enough for support, not a directory of customers."""
    locale: str
    subject: str
    state: str
    attempts: int
    last_error: str | None
    not_before: datetime
    sent_at: datetime | None


def tracking_events(session: Session, shipment_id: str) -> list[TrackingEventRow]:
    """The shipment's stored tracking events, in the order they happened (then as received)."""
    return list(session.exec(select(TrackingEventRow).where(TrackingEventRow.shipment_id == shipment_id).order_by(
        col(TrackingEventRow.occurred_at), col(TrackingEventRow.received_seq))))


def mask_email(address: str) -> str:
    """`jonas.becker@example.de` -> `j***@example.de`; other recipients (webhook URLs) are shown as they are."""
    local, at, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if at else address


@router.get("/v1/shipments/{shipment_id}/events", summary="A shipment's timeline", response_model=TimelineView)
def timeline(shipment_id: str, engine: EngineDep, caller: Reader) -> TimelineView:
    """The shipment's tracking events as stored (deduplicated, in the order they happened)."""
    with Session(engine) as session:
        row = _shipment(session, shipment_id, caller)
        events = tracking_events(session, shipment_id)
    return TimelineView(
        shipment_id=row.shipment_id, tracking_number=row.tracking_number, stage=row.stage, status=row.status,
        eta=_eta(row), promised_date=row.promised_date,
        open_exceptions=[kind for kind in row.open_exceptions.split(",") if kind],
        events=[EventView(event_id=e.event_id, partner=e.partner, code=e.code, status=TrackingStatus(e.status),
                          description=e.description, location=e.location, occurred_at=e.occurred_at,
                          via=e.via, received_seq=e.received_seq) for e in events])


@router.get("/v1/shipments/{shipment_id}/notifications", summary="A shipment's notifications",
            response_model=list[NotificationView])
def notifications(shipment_id: str, engine: EngineDep, caller: Reader) -> list[NotificationView]:
    """Every notification of the shipment and its delivery state, oldest first."""
    with Session(engine) as session:
        _shipment(session, shipment_id, caller)
    return [NotificationView(
        id=m.id, kind=m.kind, channel=m.channel, audience=m.audience, recipient=mask_email(m.recipient),
        locale=m.locale, subject=m.subject, state=m.state, attempts=m.attempts, last_error=m.last_error,
        not_before=m.not_before, sent_at=m.sent_at,
    ) for m in messages_of(engine, shipment_id)]


def _shipment(session: Session, shipment_id: str, caller: Caller) -> ShipmentRow:
    """The shipment's row; 404 when there is none or it is another merchant's (the same answer, so ids do not
    leak)."""
    row = session.get(ShipmentRow, shipment_id)
    if row is None or not caller.sees(row.merchant_id):
        raise ApiError(404, "SHIPMENT_NOT_FOUND", f"no shipment {shipment_id}")
    return row


def _eta(row: ShipmentRow) -> EtaView | None:
    if row.eta_expected is None or row.eta_earliest is None or row.eta_latest is None:
        return None
    return EtaView(expected=row.eta_expected, earliest=row.eta_earliest, latest=row.eta_latest)
