"""Whether a partner's tracking event belongs to the shipment it names: the partner must hold one of the
shipment's bookings, labels or delivery slots, and the event must name one of that partner's references.

The partner is the caller's credential's, never the body's (`starter.auth`); the shipment workflow answers this
rule in its `event_refusal` query, which the API asks before it signals, so an event that fails it changes nothing,
not even the history.
"""

from enum import StrEnum

from tradelane.enums import Stage
from tradelane.shipment.state import ShipmentState

HELD_KINDS = frozenset({"booking", "label", "slot"})
"""Records that make a partner one of the shipment's carriers (a customs filing does not)."""


class EventRefusal(StrEnum):
    """Why an event was refused; the API answers the status in the name's comment."""

    PARTNER_NOT_ON_SHIPMENT = "PARTNER_NOT_ON_SHIPMENT"
    """403: the partner holds nothing of this shipment."""
    REFERENCE_REQUIRED = "REFERENCE_REQUIRED"
    """422: the event names neither a tracking number nor a booking reference."""
    UNKNOWN_REFERENCE = "UNKNOWN_REFERENCE"
    """404: the event's references are not the partner's for this shipment."""


def references(state: ShipmentState, partner: str) -> set[str]:
    """The references `partner` holds on the shipment: its records' ids and tracking numbers; a last-mile partner
    also delivers under the carrier's tracking number it was handed.

    The chosen last-mile partner is handed the goods when the shipment enters its last-mile stage, and may report
    from then on, even before its slot's answer has reached the workflow (a courier that starts reporting the moment
    it accepts must not be refused, or its first event could be lost)."""
    refs: set[str] = set()
    chosen = state.assessment.last_mile.chosen if state.assessment is not None else None
    if (state.stage is Stage.LAST_MILE and chosen is not None and chosen.partner == partner
            and state.tracking_number):
        refs.add(state.tracking_number)
    for record in state.records:
        if record.partner == partner and record.kind in HELD_KINDS:
            refs.add(record.ref)
            if record.tracking_number:
                refs.add(record.tracking_number)
            if record.kind == "slot" and state.tracking_number:
                refs.add(state.tracking_number)
    return refs


def refusal(state: ShipmentState, partner: str, tracking_number: str | None,
            booking_ref: str | None) -> tuple[EventRefusal, str] | None:
    """None when the event may be accepted, else why not and a message naming the problem."""
    held = references(state, partner)
    if not held:
        return (EventRefusal.PARTNER_NOT_ON_SHIPMENT,
                f"partner {partner} holds no booking, label or delivery slot of shipment {state.shipment_id}")
    named = {ref for ref in (tracking_number, booking_ref) if ref}
    if not named:
        return (EventRefusal.REFERENCE_REQUIRED,
                "tracking_number or booking_ref: an event names the booking or parcel it is about")
    if not named & held:
        return (EventRefusal.UNKNOWN_REFERENCE,
                f"{', '.join(sorted(named))}: not a reference of {partner} on shipment {state.shipment_id}")
    return None
