"""The public tracking page: `/track/{tracking_number}`, HTML in the recipient's language, no key needed.

It reads the read model (so it works while no worker runs) and shows only what a recipient may see; what that is,
is decided by `starter.web.tracking_page.TrackingPage`.
"""

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import HTMLResponse
from sqlmodel import Session, select

from infra.persistence.db import ShipmentRow, TrackingEventRow
from starter.deps import EngineDep
from starter.routes.visibility import tracking_events
from starter.web.tracking_page import PageEvent, TrackingPage, render_not_found_page, render_tracking_page
from tradelane.enums import Status, TrackingStatus
from tradelane.notify import negotiate_locale

router = APIRouter(tags=["public"])


@router.get("/track/{tracking_number}", response_class=HTMLResponse)
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
        events = tracking_events(session, row.shipment_id) if row is not None else []
    if row is None:
        locale = negotiate_locale(lang, accept_language=accept_language)
        return HTMLResponse(render_not_found_page(tracking_number, locale), status_code=404)
    locale = negotiate_locale(lang or row.recipient_locale, accept_language=accept_language,
                              country=row.destination_country)
    page = _page(tracking_number, row, events)
    return HTMLResponse(render_tracking_page(page, locale), headers={"Content-Language": locale,
                                                                   "Cache-Control": "no-store"})


def _page(tracking_number: str, row: ShipmentRow, events: list[TrackingEventRow]) -> TrackingPage:
    """What the page shows of a shipment: its status, ETA and the events a recipient understands."""
    return TrackingPage(
        tracking_number=tracking_number, shipment_status=Status(row.status),
        latest_status=TrackingStatus(row.latest_status) if row.latest_status else None,
        origin_country=row.origin_country, destination_country=row.destination_country,
        eta_expected=row.eta_expected, eta_earliest=row.eta_earliest, eta_latest=row.eta_latest,
        delivered_at=next((e.occurred_at for e in reversed(events) if e.status == TrackingStatus.DELIVERED),
                          None),
        events=[PageEvent(occurred_at=e.occurred_at, status=TrackingStatus(e.status), location=e.location)
                for e in events if e.status != TrackingStatus.UNKNOWN],
        timezone=row.recipient_timezone or "UTC")
