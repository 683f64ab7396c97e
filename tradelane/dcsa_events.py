"""DCSA Track & Trace 2.2 events in Tradelane's terms: the status table, the event mapping, callback signatures and
the callback URL.

The table is `tradelane/data/dcsa_events.yaml` (each row names the TNT 2.2 schema its code is defined in). It is
read and validated once, at import. Everything else here is pure: used for polled events (`GET /v2/events`) and
for the events a subscription pushes to a callback URL alike.
"""

import base64
import binascii
import hashlib
import hmac
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from tradelane.enums import TrackingStatus
from tradelane.shipment.events import CarrierEvent
from tradelane.tracking_codes import EVENTS_PATH

TABLE = Path(__file__).parent / "data" / "dcsa_events.yaml"

Place = Literal["pol", "pod", "other", "any"]


class PlaceRow(BaseModel):
    """A transport or equipment event code at a place -> status."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    at: Place
    status: TrackingStatus
    source: str
    note: str = ""


class DocumentRow(BaseModel):
    """A shipment event code on a document type (`*` for any) -> status."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    document: str
    status: TrackingStatus
    source: str
    note: str = ""


class DcsaEventTable(BaseModel):
    source: str
    transport: list[PlaceRow]
    equipment: list[PlaceRow]
    shipment: list[DocumentRow]

    def place_status(self, event_type: str, code: str, at: Place) -> TrackingStatus:
        rows = {(r.code, r.at): r.status for r in (self.transport if event_type == "TRANSPORT" else self.equipment)}
        return rows.get((code, at), rows.get((code, "any"), TrackingStatus.UNKNOWN))

    def document_status(self, code: str, document: str | None) -> TrackingStatus:
        rows = {(r.code, r.document): r.status for r in self.shipment}
        return rows.get((code, document or "*"), rows.get((code, "*"), TrackingStatus.UNKNOWN))


@cache
def dcsa_event_table(path: Path = TABLE) -> DcsaEventTable:
    """The validated table; a wrong status name fails here, naming the row."""
    return DcsaEventTable.model_validate(yaml.safe_load(path.read_text()))


dcsa_event_table()  # read at import, not on first use: workflow code may map statuses and may not open files


class _Location(BaseModel):
    UNLocationCode: str | None = None
    locationName: str | None = None


class _TransportCall(BaseModel):
    UNLocationCode: str | None = None
    location: _Location | None = None


class _DocumentReference(BaseModel):
    documentReferenceType: str | None = None
    documentReferenceValue: str | None = None


class DcsaEvent(BaseModel):
    """The fields of a TNT 2.2 event (transport, equipment or shipment) that Tradelane reads.

    Codes are plain strings, not the spec's enums: a code added by a later release is kept as `unknown`.
    """

    model_config = ConfigDict(extra="allow")

    eventID: str | None = None
    eventType: Literal["TRANSPORT", "EQUIPMENT", "SHIPMENT"]
    eventDateTime: datetime
    eventClassifierCode: str = "ACT"
    transportEventTypeCode: str | None = None
    equipmentEventTypeCode: str | None = None
    shipmentEventTypeCode: str | None = None
    documentTypeCode: str | None = None
    documentID: str | None = None
    equipmentReference: str | None = None
    emptyIndicatorCode: str | None = None
    reason: str | None = None
    transportCall: _TransportCall | None = None
    eventLocation: _Location | None = None
    documentReferences: list[_DocumentReference] | None = None

    @property
    def code(self) -> str:
        return (self.transportEventTypeCode or self.equipmentEventTypeCode or self.shipmentEventTypeCode
                or "UNKNOWN")

    @property
    def un_location(self) -> str | None:
        if self.eventLocation is not None and self.eventLocation.UNLocationCode:
            return self.eventLocation.UNLocationCode
        if self.transportCall is not None:
            return self.transportCall.UNLocationCode or (
                self.transportCall.location.UNLocationCode if self.transportCall.location else None)
        return None

    @property
    def booking_references(self) -> set[str]:
        """The carrier booking references the event itself names: a shipment event on the booking (`BKG`), and its
        `documentReferences` of type `BKG` (the spec's enum spells it `BKG (Booking)`; the example `BKG`)."""
        named = {self.documentID} if self.documentTypeCode == "BKG" and self.documentID else set()
        for reference in self.documentReferences or []:
            kind = (reference.documentReferenceType or "").strip().upper()
            if kind.startswith("BKG") and reference.documentReferenceValue:
                named.add(reference.documentReferenceValue)
        return named

    @property
    def location_name(self) -> str:
        for location in (self.eventLocation, self.transportCall.location if self.transportCall else None):
            if location is not None and location.locationName:
                return location.locationName
        return self.un_location or ""


class Ports(BaseModel):
    """The booking's port of loading and port of discharge (UN/LOCODEs), which place-dependent rows need."""

    port_of_loading: str | None = None
    port_of_discharge: str | None = None

    def place_of(self, un_location: str | None) -> Place:
        if un_location is None or (self.port_of_loading is None and self.port_of_discharge is None):
            return "any"
        if un_location == self.port_of_loading:
            return "pol"
        if un_location == self.port_of_discharge:
            return "pod"
        return "other"


def status_of(event: DcsaEvent, ports: Ports | None = None) -> TrackingStatus:
    """Tradelane's status for one DCSA event; `unknown` when no row matches (kept, never dropped)."""
    table = dcsa_event_table()
    if event.eventType == "SHIPMENT":
        return table.document_status(event.code, event.documentTypeCode)
    return table.place_status(event.eventType, event.code, (ports or Ports()).place_of(event.un_location))


def _description(event: DcsaEvent) -> str:
    parts = [f"{event.eventType.lower()} {event.code}"]
    if event.documentTypeCode:
        parts.append(f"on {event.documentTypeCode} {event.documentID or ''}".strip())
    if event.equipmentReference:
        parts.append(f"{event.equipmentReference} {(event.emptyIndicatorCode or '').lower()}".strip())
    if event.eventClassifierCode != "ACT":
        parts.append(f"({event.eventClassifierCode})")
    if event.reason:
        parts.append(f"- {event.reason}")
    return " ".join(parts)


def _event_id(partner: str, booking_ref: str, event: DcsaEvent) -> str:
    # eventID is optional in TNT 2.2; without it, what the event says identifies it (stable across polls).
    if event.eventID:
        return event.eventID
    return (f"{partner}:{booking_ref}:{event.eventType}:{event.code}:{event.eventClassifierCode}:"
            f"{event.eventDateTime.isoformat()}:{event.un_location or ''}:{event.equipmentReference or ''}")


class DcsaEventError(ValueError):
    """An event that is not a TNT 2.2 event (no eventType, no eventDateTime, ...); names the event's index."""


def parse_events(events: list[dict[str, Any]]) -> list[DcsaEvent]:
    """The events read as DCSA events, or `DcsaEventError` naming the first one that is not."""
    parsed = []
    for index, raw in enumerate(events):
        try:
            parsed.append(DcsaEvent.model_validate(raw))
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
            raise DcsaEventError(f"events[{index}]: {problems}") from err
    return parsed


def to_carrier_events(partner: str, shipment_id: str, booking_ref: str, events: list[dict[str, Any]], *,
                      ports: Ports | None = None, via: str = "poll") -> list[CarrierEvent]:
    """DCSA TNT 2.2 events (polled or pushed) as Tradelane's carrier events, oldest first.

    Args:
        partner: The connection's name, what events are filed under.
        shipment_id: Tradelane's shipment.
        booking_ref: The carrier booking reference the events belong to.
        events: The JSON objects of `GET /v2/events` or of a subscription callback body.
        ports: The booking's port of loading and discharge; without them place-dependent rows use `any`.
        via: `poll`, or `webhook` for pushed events (subscription callbacks).

    Raises:
        DcsaEventError: An object is not a TNT 2.2 event.
    """
    parsed = sorted(parse_events(events), key=lambda e: e.eventDateTime)  # sorted() is stable: ties keep order
    return [
        CarrierEvent(
            event_id=_event_id(partner, booking_ref, event), partner=partner, shipment_id=shipment_id,
            code=event.code, status=status_of(event, ports), description=_description(event),
            location=event.location_name, occurred_at=event.eventDateTime, tracking_number=booking_ref,
            booking_ref=booking_ref, via=via,
        )
        for event in parsed
    ]


SIGNATURE_TYPE = "sha256"
"""The one signature type TNT 2.2 defines for `Notification-Signature` (`sha256=<hex HMAC-SHA256>`)."""


def secret_key(secret: str) -> bytes:
    """The HMAC key of a subscription's secret: TNT 2.2 sends the secret Base64-encoded (`format: byte`)."""
    try:
        return base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ValueError("the subscription secret is not Base64 (TNT 2.2 components.schemas.secret)") from err


def verify_callback_signature(secret: str, body: bytes, header: str) -> bool:
    """Whether a callback's `Notification-Signature` header signs `body` with the subscription's secret.

    TNT 2.2 (`POST /v2/event-subscriptions` callbacks, header `Notification-Signature`): `<type>=<signature>`, type
    `sha256`, the signature an HMAC over the entire request body exactly as received; no header or URL is covered.
    The comparison is constant-time. An unknown type, a malformed header or a secret that is not Base64 is False.
    """
    kind, sep, signature = header.strip().partition("=")
    if not sep or kind.strip().lower() != SIGNATURE_TYPE:
        return False
    try:
        key = secret_key(secret)
    except ValueError:
        return False
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


def other_booking(events: list[DcsaEvent], booking_ref: str) -> tuple[int, str] | None:
    """The first event (index, reference) that names a booking other than `booking_ref`, or None.

    A subscription follows one booking, so its callbacks are about that booking; an event naming another would be
    filed under the wrong shipment.
    """
    for index, event in enumerate(events):
        others = sorted(event.booking_references - {booking_ref})
        if others:
            return index, others[0]
    return None


CALLBACK_PATH = "/v1/partners/{partner}/dcsa/events"
"""Tradelane's ingress for TNT 2.2 subscription callbacks, below the API's public address; the booking is named in
the query (`carrierBookingReference`), which TNT 2.2 allows a callback URL to carry (components.schemas.callbackUrl)
and which picks the secret the signature is checked with."""

BOOKING_PARAMETER = "carrierBookingReference"


def callback_url(events_url: str, partner: str, booking_ref: str) -> str:
    """The callback URL a DCSA line is subscribed with for one booking: Tradelane's DCSA ingress for `partner`, at the
    API address Tradelane's own events URL is at, naming the booking.

    Args:
        events_url: Tradelane's events URL as the shipment was given it (`<public address>/v1/carrier-events`).
        partner: The line's connection name.
        booking_ref: The carrier booking reference the subscription follows.

    Raises:
        ValueError: `events_url` is not Tradelane's events URL (it does not end in `/v1/carrier-events`).
    """
    root = events_url.strip().rstrip("/")
    if not root.endswith(EVENTS_PATH):
        raise ValueError(f"events_url {events_url!r} does not end in {EVENTS_PATH}: the DCSA callback URL is derived "
                         "from Tradelane's events URL (TRADELANE_PUBLIC_URL)")
    path = CALLBACK_PATH.format(partner=quote(partner, safe=""))
    return f"{root.removesuffix(EVENTS_PATH)}{path}?{BOOKING_PARAMETER}={quote(booking_ref, safe='')}"
