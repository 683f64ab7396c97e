"""Visibility routes: a shipment's tracking timeline and notifications (API), and the public tracking page.

All three read the read model, which the workflow keeps up to date: they work while no worker runs and for
shipments long closed.
"""

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlmodel import Session, col, select

from infra.persistence.db import ShipmentRow, TrackingEventRow
from infra.persistence.outbox import messages_of
from starter.auth import READ, require
from starter.deps import EngineDep
from starter.errors import ApiError
from starter.web.tracking_page import PageEvent, TrackingPage, render_not_found_page, render_tracking_page
from tradelane.enums import Status, TrackingStatus
from tradelane.notify import negotiate_locale

router = APIRouter()


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


def _shipment(session: Session, shipment_id: str) -> ShipmentRow:
    row = session.get(ShipmentRow, shipment_id)
    if row is None:
        raise ApiError(404, "SHIPMENT_NOT_FOUND", f"no shipment {shipment_id}")
    return row


def _events(session: Session, shipment_id: str) -> list[TrackingEventRow]:
    return list(session.exec(select(TrackingEventRow).where(TrackingEventRow.shipment_id == shipment_id).order_by(
        col(TrackingEventRow.occurred_at), col(TrackingEventRow.received_seq))))


def _eta(row: ShipmentRow) -> EtaView | None:
    if row.eta_expected is None or row.eta_earliest is None or row.eta_latest is None:
        return None
    return EtaView(expected=row.eta_expected, earliest=row.eta_earliest, latest=row.eta_latest)


def mask_email(address: str) -> str:
    """`jonas.becker@example.de` -> `j***@example.de`; other recipients (webhook URLs) are shown as they are."""
    local, at, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if at else address


@router.get("/v1/shipments/{shipment_id}/events", response_model=TimelineView, tags=["visibility"],
            dependencies=[Depends(require(*READ))])
def timeline(shipment_id: str, engine: EngineDep) -> TimelineView:
    """The shipment's tracking events as stored (deduplicated, in the order they happened)."""
    with Session(engine) as session:
        row = _shipment(session, shipment_id)
        events = _events(session, shipment_id)
    return TimelineView(
        shipment_id=row.shipment_id, tracking_number=row.tracking_number, stage=row.stage, status=row.status,
        eta=_eta(row), promised_date=row.promised_date,
        open_exceptions=[kind for kind in row.open_exceptions.split(",") if kind],
        events=[EventView(event_id=e.event_id, partner=e.partner, code=e.code, status=TrackingStatus(e.status),
                          description=e.description, location=e.location, occurred_at=e.occurred_at,
                          via=e.via, received_seq=e.received_seq) for e in events])


@router.get("/v1/shipments/{shipment_id}/notifications", response_model=list[NotificationView],
            dependencies=[Depends(require(*READ))],
            tags=["visibility"])
def notifications(shipment_id: str, engine: EngineDep) -> list[NotificationView]:
    """Every notification of the shipment and its delivery state, oldest first."""
    with Session(engine) as session:
        _shipment(session, shipment_id)
    return [NotificationView(
        id=m.id, kind=m.kind, channel=m.channel, audience=m.audience, recipient=mask_email(m.recipient),
        locale=m.locale, subject=m.subject, state=m.state, attempts=m.attempts, last_error=m.last_error,
        not_before=m.not_before, sent_at=m.sent_at,
    ) for m in messages_of(engine, shipment_id)]


@router.get("/track/{tracking_number}", response_class=HTMLResponse, tags=["public"])
def tracking_page(
    tracking_number: Annotated[str, Path(max_length=64)],
    engine: EngineDep,
    lang: Annotated[str | None, Query(max_length=35, description="Show the page in this language.")] = None,
    accept_language: Annotated[str | None, Header(max_length=500)] = None,
) -> HTMLResponse:
    """The public page for a tracking number: status, ETA and timeline, in the recipient's language (or the
    browser's). Nothing internal is shown: no partner names, costs, ids or failure reasons."""
    with Session(engine) as session:
        row = session.exec(select(ShipmentRow).where(ShipmentRow.tracking_number == tracking_number)).first()
        events = _events(session, row.shipment_id) if row is not None else []
    if row is None:
        locale = negotiate_locale(lang, accept_language=accept_language)
        return HTMLResponse(render_not_found_page(tracking_number, locale), status_code=404)
    locale = negotiate_locale(lang or row.recipient_locale, accept_language=accept_language,
                              country=row.destination_country)
    page = TrackingPage(
        tracking_number=tracking_number, shipment_status=Status(row.status),
        latest_status=TrackingStatus(row.latest_status) if row.latest_status else None,
        origin_country=row.origin_country, destination_country=row.destination_country,
        eta_expected=row.eta_expected, eta_earliest=row.eta_earliest, eta_latest=row.eta_latest,
        delivered_at=next((e.occurred_at for e in reversed(events) if e.status == TrackingStatus.DELIVERED),
                          None),
        events=[PageEvent(occurred_at=e.occurred_at, status=TrackingStatus(e.status), location=e.location)
                for e in events if e.status != TrackingStatus.UNKNOWN],
        timezone=row.recipient_timezone or "UTC")
    return HTMLResponse(render_tracking_page(page, locale), headers={"Content-Language": locale,
                                                                   "Cache-Control": "no-store"})
