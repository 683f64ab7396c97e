"""Each partner's tracking codes mapped to one vocabulary, through a data table rather than if-chains.

The table is `tradelane/data/tracking_codes.yaml`: per partner speaking Tradelane's dialect, what each of its
codes means as a `TrackingStatus`. It is loaded and validated once. How a partner reports its events is its
connection's (`tradelane.connections.event_delivery`, re-exported here).
"""

import bisect
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AwareDatetime, BaseModel, Field

from tradelane.connections import EventDelivery, event_delivery  # noqa: F401  (re-exported)
from tradelane.enums import TrackingStatus
from tradelane.models import Printable, without_control_characters
from tradelane.shipment.events import CarrierEvent

EVENTS_PATH = "/v1/carrier-events"
"""Where partners post events in Tradelane's own format (`PartnerEvent`), below the API's public address
(`Settings.events_url`)."""

TABLE = Path(__file__).parent / "data" / "tracking_codes.yaml"


class PartnerCodes(BaseModel):
    source: str
    codes: dict[str, TrackingStatus]


class TrackingCodes(BaseModel):
    partners: dict[str, PartnerCodes]


@cache
def tracking_codes(path: Path = TABLE) -> TrackingCodes:
    """The validated table; a wrong status name fails here, naming the partner and code."""
    return TrackingCodes.model_validate(yaml.safe_load(path.read_text()))


tracking_codes()  # read at import, not on first use: workflow code looks partners up and may not open files


def normalise(partner: str, code: str) -> TrackingStatus:
    """Tradelane's status for a partner's code; UNKNOWN (kept, never dropped) for a code not in the table."""
    table = tracking_codes().partners.get(partner)
    return TrackingStatus.UNKNOWN if table is None else table.codes.get(code, TrackingStatus.UNKNOWN)


class PartnerEvent(BaseModel):
    """A tracking event as partners send it, pushed to the webhook or read by polling (the sandbox's format).

    Text with a control character is refused (422 naming the field) on the webhook: a NUL in a location cannot
    be stored by PostgreSQL, a line break would reach e-mails. A polled event is cleaned instead (`polled`)."""

    event_id: Annotated[str, Printable] = Field(min_length=1, max_length=200)
    partner: Annotated[str, Printable] | None = Field(default=None, min_length=1, max_length=64)
    """Who the event is from: on a webhook the API key's partner, which this may only repeat (it is never taken
    from here); on a poll the polled partner."""
    shipment_id: Annotated[str, Printable] = Field(min_length=1, max_length=64)
    code: Annotated[str, Printable] = Field(min_length=1, max_length=64)
    # This century only: a tracking event is from around now, and a time at the ends of the calendar (year 1 at
    # +14:00) cannot even be converted to UTC, which would fail the workflow reading it.
    occurred_at: AwareDatetime = Field(ge=datetime(2000, 1, 1, tzinfo=UTC), lt=datetime(2100, 1, 1, tzinfo=UTC))
    """With its offset: a time without one would be read in an unknown zone and misplace the event."""
    description: Annotated[str, Printable] = Field(default="", max_length=500)
    location: Annotated[str, Printable] = Field(default="", max_length=200)
    tracking_number: Annotated[str, Printable] | None = Field(default=None, max_length=64)
    booking_ref: Annotated[str, Printable] | None = Field(default=None, max_length=64)
    # The read model stores it in a 32-bit INTEGER column (PostgreSQL would refuse a larger one).
    sequence: int | None = Field(default=None, ge=0, le=2**31 - 1)

    @classmethod
    def polled(cls, raw: dict[str, Any], partner: str) -> CarrierEvent:
        """An event read by polling `partner`, in Tradelane's vocabulary. Its text is cleaned of control characters
        rather than refused: a poll cannot answer 422, and refusing would fail the poll on every retry and lose
        the shipment's other events with it. The polled partner is who the event is from, whatever it says."""
        cleaned = {key: without_control_characters(value) if isinstance(value, str) else value
                   for key, value in raw.items()}
        return cls.model_validate({**cleaned, "partner": partner}).normalised(via="poll")

    def normalised(self, via: str) -> CarrierEvent:
        """The event in Tradelane's vocabulary, as the workflow takes it."""
        if self.partner is None:
            raise ValueError("partner: the event's partner is known (its key's, or the polled one's)")
        return CarrierEvent(**self.model_dump(), status=normalise(self.partner, self.code), via=via)


class Arrival(StrEnum):
    """What happened to an event offered to a shipment's timeline."""

    ADDED = "added"
    LATE = "late"
    """Added, but it happened before events already known: put in its place in time."""
    DUPLICATE = "duplicate"
    """Already known by its id (a webhook retry, or the same event by webhook and by polling): dropped."""


def _order(event: CarrierEvent) -> tuple[datetime, int]:
    # Partners' sequence numbers are their own (two partners' 1, 2, 3 mean nothing together): ties in time
    # keep the order of arrival.
    return event.occurred_at, event.received_seq


def event_key(event: CarrierEvent) -> tuple[str, str]:
    """What makes an event the same event: its partner's id for it (two partners may number alike)."""
    return event.partner, event.event_id


def merge_event(events: list[CarrierEvent], known: set[tuple[str, str]], event: CarrierEvent) -> Arrival:
    """Put `event` into the time-ordered `events` unless its key is in `known` (both are updated).

    Partners deliver at least once and in any order: dedup is by (partner, event id), and the place in the
    timeline is by the time the event happened (then arrival), never by when it arrived.
    """
    if event_key(event) in known:
        return Arrival.DUPLICATE
    known.add(event_key(event))
    position = bisect.bisect_right(events, _order(event), key=_order)
    events.insert(position, event)
    return Arrival.ADDED if position == len(events) - 1 else Arrival.LATE
