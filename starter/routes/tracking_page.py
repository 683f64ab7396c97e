"""The public tracking page: `/track/{token}`, HTML in the recipient's language, no key needed.

The token is the shipment's unguessable public token (`tradelane.tracking_page.tracking_token`), which the
recipient's e-mails link to. A carrier's tracking number does not open the page: carriers number parcels in
sequence, so anyone could read the neighbours of their own parcel. Whatever does not name a shipment (a tracking
number, a wrong or malformed token) gets the same 404 page, after the same lookup. Requests are rate-limited per
client (`starter.ratelimit`).

It reads the read model (so it works while no worker runs) and shows only what a recipient may see; what that is,
is decided by `starter.web.tracking_page.TrackingPage` and `tradelane.tracking_page.public_location`.
"""

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from infra.persistence.db import ShipmentRow, TrackingEventRow
from infra.persistence.merchants import get_profile, logo_of
from infra.persistence.tracking_tokens import shipment_of_token
from starter.deps import EngineDep
from starter.routes.visibility import tracking_events
from starter.web.tracking_page import (
    ENDED_UNDELIVERED,
    PageEvent,
    TrackingPage,
    render_not_found_page,
    render_tracking_page,
    security_headers,
    shown_logo,
)
from tradelane.enums import Status, TrackingStatus
from tradelane.partners import PARTNERS
from tradelane.tracking_page import page_locale, public_location

router = APIRouter(tags=["public"])

_PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "Vary": "Accept-Language"}
"""The page's address is its key: no cache keeps it, no link from it passes it on (nor the shop logo's request). Its
language follows the browser's (`Vary`). Its Content-Security-Policy: `security_headers`."""


@router.get("/track/{token}", summary="Public tracking page", response_class=HTMLResponse)
def tracking_page(
    token: Annotated[str, Path(max_length=64, description="The shipment's public token, from its e-mails.")],
    engine: EngineDep,
    lang: Annotated[str | None, Query(max_length=35, description=(
        "Show the page in this language (the page's language links set it); it wins over the browser's "
        "Accept-Language, which wins over the recipient's language. An unsupported language is passed over."))] = None,
    accept_language: Annotated[str | None, Header(max_length=500)] = None,
) -> HTMLResponse:
    """The public page of the shipment a token names: status, ETA and timeline, in the reader's language (chosen on
    the page, else the browser's, else the recipient's). Nothing internal and no personal data beyond the
    destination country is shown."""
    with Session(engine) as session:
        shipment_id = shipment_of_token(session, token)
        row = session.get(ShipmentRow, shipment_id) if shipment_id is not None else None
        events = tracking_events(session, row.shipment_id) if row is not None else []
        profile = get_profile(session, row.merchant_id) if row is not None else None
    if row is None or row.tracking_number is None:
        locale = page_locale(lang, accept_language)
        return HTMLResponse(render_not_found_page(token, locale), status_code=404,
                            headers={**_PRIVATE, **security_headers(None)})
    locale = page_locale(lang, accept_language, row.recipient_locale, row.destination_country)
    page = page_of(row.tracking_number, row, events, shop_name=profile.display_name if profile else None,
                   shop_logo_url=shown_logo(logo_of(profile)))
    return HTMLResponse(render_tracking_page(page, locale),
                        headers={"Content-Language": locale, **_PRIVATE, **security_headers(page)})


def page_of(tracking_number: str, row: ShipmentRow, events: list[TrackingEventRow],
            shop_name: str | None = None, shop_logo_url: str | None = None) -> TrackingPage:
    """What the page shows of a shipment: its status, ETA and the events a recipient understands. A shipment that
    will not be delivered keeps its last ETA in the read model (for ops); the page leaves it out."""
    status = Status(row.status)
    eta = (None, None, None) if status in ENDED_UNDELIVERED else (row.eta_expected, row.eta_earliest, row.eta_latest)
    return TrackingPage(
        tracking_number=tracking_number, shipment_status=status,
        latest_status=TrackingStatus(row.latest_status) if row.latest_status else None,
        origin_country=row.origin_country, destination_country=row.destination_country,
        eta_expected=eta[0], eta_earliest=eta[1], eta_latest=eta[2],
        delivered_at=next((e.occurred_at for e in reversed(events) if e.status == TrackingStatus.DELIVERED),
                          None),
        events=[_event(e) for e in events if e.status != TrackingStatus.UNKNOWN],
        timezone=row.recipient_timezone or "UTC", shop_name=shop_name, shop_logo_url=shop_logo_url)


def _event(event: TrackingEventRow) -> PageEvent:
    status = TrackingStatus(event.status)
    partner = PARTNERS.get(event.partner)
    return PageEvent(occurred_at=event.occurred_at, status=status,
                     location=public_location(event.location, status, partner.kind if partner else None))
