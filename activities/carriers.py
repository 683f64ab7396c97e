"""Carrier activities: book, label, hand over, and their undos (quotes are asked by `decisions.assess`).

Each speaks the carrier's own protocol through the adapter its connection names (`activities.protocols`). The
`*_by_key` undos take back what a booking or label step made when its outcome is unknown (`activities.lookup`).
"""

import structlog
from temporalio import activity

from activities.http import PartnerGateway
from activities.lookup import undo_by_key
from tradelane.shipment.calls import PartnerCall, PartnerRecord

log = structlog.stdlib.get_logger(__name__)


class CarrierActivities:
    def __init__(self, gateway: PartnerGateway) -> None:
        self._partners = gateway

    @activity.defn(name="carrier.book")
    async def book(self, call: PartnerCall) -> PartnerRecord:
        assert call.request is not None, "book needs the shipment request"
        gw = self._partners
        record = await gw.carrier(call.partner).book(gw.http, gw.endpoint(call.partner), call)
        log.info("booked", shipment_id=call.shipment_id, partner=call.partner, booking=record.ref)
        return record

    @activity.defn(name="carrier.cancel_booking")
    async def cancel_booking(self, call: PartnerCall) -> PartnerRecord:
        gw = self._partners
        return await gw.carrier(call.partner).cancel_booking(gw.http, gw.endpoint(call.partner), call)

    @activity.defn(name="carrier.cancel_booking_by_key")
    async def cancel_booking_by_key(self, call: PartnerCall) -> PartnerRecord:
        """Cancel the booking made under the step's key, if the carrier made one (the outcome was unknown)."""
        return await undo_by_key(call, "booking", lambda key: self._find(call.partner, "booking", key),
                                 self.cancel_booking)

    @activity.defn(name="carrier.create_label")
    async def create_label(self, call: PartnerCall) -> PartnerRecord:
        gw = self._partners
        return await gw.carrier(call.partner).create_label(gw.http, gw.endpoint(call.partner), call)

    @activity.defn(name="carrier.void_label")
    async def void_label(self, call: PartnerCall) -> PartnerRecord:
        gw = self._partners
        return await gw.carrier(call.partner).void_label(gw.http, gw.endpoint(call.partner), call)

    @activity.defn(name="carrier.void_label_by_key")
    async def void_label_by_key(self, call: PartnerCall) -> PartnerRecord:
        """Void the label made under the step's key, if the carrier made one (the outcome was unknown)."""
        return await undo_by_key(call, "label", lambda key: self._find(call.partner, "label", key),
                                 self.void_label)

    @activity.defn(name="carrier.handover")
    async def handover(self, call: PartnerCall) -> None:
        """Hand the goods to the carrier; where it pushes tracking events, they go to `events_url`."""
        gw = self._partners
        await gw.carrier(call.partner).handover(gw.http, gw.endpoint(call.partner), call)

    async def _find(self, partner: str, kind: str, key: str) -> PartnerRecord | None:
        gw = self._partners
        return await gw.carrier(partner).find(gw.http, gw.endpoint(partner), kind, key)
