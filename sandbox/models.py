"""Wire models of the sandbox HTTP API: one model in and one out per operation."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from sandbox.partners import TransportMode


def _country(value: str) -> str:
    if len(value) != 2 or not value.isascii() or not value.isalpha():
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code like 'DE'")
    return value


CountryCode = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True), AfterValidator(_country)
]


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


CallbackUrl = Annotated[str, AfterValidator(_http_url)]


class _Body(BaseModel):
    """Request bodies: every one carries ``shipment_id`` so fault rules can match it."""

    model_config = ConfigDict(extra="forbid")

    shipment_id: str = Field(min_length=1)


# --- carriers ---------------------------------------------------------------------------------


class Parcel(BaseModel):
    """One physical parcel."""

    model_config = ConfigDict(extra="forbid")

    weight_kg: float = Field(gt=0)
    length_cm: float = Field(gt=0)
    width_cm: float = Field(gt=0)
    height_cm: float = Field(gt=0)


class QuoteRequest(_Body):
    """Body of ``POST /partners/{partner}/quotes``."""

    origin_country: CountryCode
    destination_country: CountryCode
    service_level: str
    parcels: list[Parcel] = Field(min_length=1)


class BookingRequest(QuoteRequest):
    """Body of ``POST /partners/{partner}/bookings``."""

    quote_id: str | None = None


class Money(BaseModel):
    """An amount as a 2-decimal string, so no float rounding reaches a price."""

    amount: str
    currency: str

    @classmethod
    def of(cls, amount: Decimal, currency: str) -> Money:
        """Builds a Money from a Decimal already quantized to cents."""
        return cls(amount=f"{amount:.2f}", currency=currency)


class TransitRange(BaseModel):
    """Quoted transit time in days."""

    min: int
    max: int


class Quote(BaseModel):
    """Response of a quote request."""

    quote_id: str
    partner: str
    mode: TransportMode
    price: Money
    transit_days: TransitRange
    chargeable_weight_kg: float
    co2e_kg: float


class BookingOut(BaseModel):
    """A carrier booking as the carrier reports it."""

    booking_id: str
    partner: str
    mode: TransportMode
    state: str
    shipment_id: str
    idempotency_key: str
    price: Money


class LabelRequest(_Body):
    """Body of ``POST /partners/{partner}/bookings/{booking_id}/labels``."""


class LabelOut(BaseModel):
    """A shipping label."""

    label_id: str
    booking_id: str
    tracking_number: str
    state: str
    format: str


class HandoverRequest(_Body):
    """Body of ``POST /partners/{partner}/bookings/{booking_id}/handover``."""

    events_url: CallbackUrl | None = None
    ready_at: AwareDatetime | None = None
    """When the goods are ready for this partner (the previous leg's arrival); the scenario starts then.
    Now when absent."""


class HandoverOut(BaseModel):
    """Response of a handover."""

    booking_id: str
    state: str


class OptionalShipmentBody(BaseModel):
    """Optional body of cancel/void/withdraw/release-slot calls (the contract needs none)."""

    shipment_id: str | None = None


# --- customs broker ---------------------------------------------------------------------------


class FilingItem(BaseModel):
    """One declared line item. ``hs_code`` is checked by the broker, not by the schema."""

    model_config = ConfigDict(extra="forbid")

    sku: str
    description: str
    hs_code: str
    quantity: int = Field(gt=0)
    unit_value: Decimal = Field(ge=0)
    origin_country: CountryCode


class FilingRequest(_Body):
    """Body of ``POST /partners/{partner}/filings``."""

    booking_ref: str
    destination_country: CountryCode
    incoterm: str
    currency: str
    declared_value: Decimal = Field(ge=0)
    items: list[FilingItem] = Field(min_length=1)


class ReleaseFilingRequest(_Body):
    """Body of ``POST /partners/{partner}/filings/{filing_id}/release``: an ops decision."""

    actor: str
    comment: str = ""


class FilingOut(BaseModel):
    """A customs filing."""

    filing_id: str
    state: str
    hold_reason: str | None
    shipment_id: str
    idempotency_key: str


# --- last mile --------------------------------------------------------------------------------


class SlotRequest(_Body):
    """Body of ``POST /partners/{partner}/slots``."""

    tracking_number: str = Field(min_length=1)
    destination_country: CountryCode
    postal_code: str
    events_url: CallbackUrl | None = None
    ready_at: AwareDatetime | None = None
    """When the goods reach the last-mile partner (the last leg's arrival); now when absent."""


class SlotOut(BaseModel):
    """A scheduled delivery slot."""

    slot_id: str
    partner: str
    state: str
    window_start: datetime
    window_end: datetime
    shipment_id: str
    idempotency_key: str


# --- tracking and inspection ------------------------------------------------------------------


class TrackingEvent(BaseModel):
    """One tracking event, as pushed to ``events_url`` and returned by the tracking endpoint."""

    event_id: str
    """Deterministic: ``{partner}:{record_id}:{sequence}``."""
    partner: str
    shipment_id: str
    booking_ref: str
    """The booking_id (carriers) or slot_id (last mile) the event belongs to."""
    tracking_number: str | None
    """``None`` only when a carrier booking was handed over without an active label."""
    code: str
    description: str
    location: str
    occurred_at: datetime
    """Sandbox virtual time: playback start + day_offset days."""
    sequence: int
    """1-based position of the event within its record's scenario."""


class TrackingEvents(BaseModel):
    """Response of ``GET /partners/{partner}/tracking/{tracking_number}``."""

    events: list[TrackingEvent]


class HistoryEntry(BaseModel):
    """One state a record entered."""

    state: str
    at: datetime
    actor: str | None = None
    comment: str | None = None


class InspectRecord(BaseModel):
    """One record as shown by ``GET /_inspect/bookings``."""

    kind: str
    partner: str
    id: str
    shipment_id: str
    state: str
    idempotency_key: str
    created_at: datetime
    history: list[HistoryEntry]


class InspectOut(BaseModel):
    """Response of ``GET /_inspect/bookings``."""

    shipment_id: str | None
    records: list[InspectRecord]


class Health(BaseModel):
    """Response of ``GET /healthz``."""

    status: str = "ok"
