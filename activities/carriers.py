"""Carrier activities: book, label, hand over, and their undos (quotes are asked by `decisions.assess`).

Each speaks the carrier's own protocol through the adapter its connection names (`activities.protocols`).
"""

import structlog
from temporalio import activity

from activities.http import PartnerGateway
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

    @activity.defn(name="carrier.create_label")
    async def create_label(self, call: PartnerCall) -> PartnerRecord:
        gw = self._partners
        return await gw.carrier(call.partner).create_label(gw.http, gw.endpoint(call.partner), call)

    @activity.defn(name="carrier.void_label")
    async def void_label(self, call: PartnerCall) -> PartnerRecord:
        gw = self._partners
        return await gw.carrier(call.partner).void_label(gw.http, gw.endpoint(call.partner), call)

    @activity.defn(name="carrier.handover")
    async def handover(self, call: PartnerCall) -> None:
        """Hand the goods to the carrier; where it pushes tracking events, they go to `events_url`."""
        gw = self._partners
        await gw.carrier(call.partner).handover(gw.http, gw.endpoint(call.partner), call)
