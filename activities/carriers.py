"""Carrier activities: book, label, hand over, and their undos (quotes are asked by `decisions.assess`)."""

import structlog
from temporalio import activity

from activities.http import PartnerGateway
from tradelane.partner_api import lane_body, parse_record
from tradelane.shipment.calls import PartnerCall, PartnerRecord

log = structlog.stdlib.get_logger(__name__)


class CarrierActivities:
    def __init__(self, gateway: PartnerGateway) -> None:
        self._partners = gateway

    @activity.defn(name="carrier.book")
    async def book(self, call: PartnerCall) -> PartnerRecord:
        assert call.request is not None, "book needs the shipment request"
        lane = lane_body(call.request, call.origin, call.destination)
        body = await self._partners.call(call.partner, "book", "bookings", lane, idempotency_key=call.idempotency_key)
        record = parse_record("booking", call.partner, body)
        log.info("booked", shipment_id=call.shipment_id, partner=call.partner, booking=record.ref)
        return record

    @activity.defn(name="carrier.cancel_booking")
    async def cancel_booking(self, call: PartnerCall) -> PartnerRecord:
        body = await self._partners.call(call.partner, "cancel", f"bookings/{call.ref}/cancel",
                                         {"shipment_id": call.shipment_id})
        return parse_record("booking", call.partner, body)

    @activity.defn(name="carrier.create_label")
    async def create_label(self, call: PartnerCall) -> PartnerRecord:
        body = await self._partners.call(call.partner, "label", f"bookings/{call.ref}/labels",
                                         {"shipment_id": call.shipment_id}, idempotency_key=call.idempotency_key)
        return parse_record("label", call.partner, body)

    @activity.defn(name="carrier.void_label")
    async def void_label(self, call: PartnerCall) -> PartnerRecord:
        body = await self._partners.call(call.partner, "void", f"labels/{call.ref}/void",
                                         {"shipment_id": call.shipment_id})
        return parse_record("label", call.partner, body)

    @activity.defn(name="carrier.handover")
    async def handover(self, call: PartnerCall) -> None:
        """Hand the goods to the carrier; from here it pushes tracking events to `events_url`."""
        await self._partners.call(call.partner, "handover", f"bookings/{call.ref}/handover",
                                  {"shipment_id": call.shipment_id, "events_url": call.events_url,
                                   "ready_at": call.ready_at.isoformat() if call.ready_at else None})
