"""Last-mile activities: schedule the delivery slot, release it (the undo)."""

from temporalio import activity

from activities.http import PartnerGateway
from tradelane.partner_api import parse_record, slot_body
from tradelane.shipment.calls import PartnerCall, PartnerRecord


class LastMileActivities:
    def __init__(self, gateway: PartnerGateway) -> None:
        self._partners = gateway

    @activity.defn(name="last_mile.schedule")
    async def schedule(self, call: PartnerCall) -> PartnerRecord:
        assert call.request is not None, "scheduling needs the shipment request"
        body = await self._partners.call(call.partner, "schedule", "slots",
                                         slot_body(call.request, call.tracking_number, call.events_url, call.ready_at),
                                         idempotency_key=call.idempotency_key)
        return parse_record("slot", call.partner, body)

    @activity.defn(name="last_mile.release")
    async def release(self, call: PartnerCall) -> PartnerRecord:
        body = await self._partners.call(call.partner, "release_slot", f"slots/{call.ref}/release",
                                         {"shipment_id": call.shipment_id})
        return parse_record("slot", call.partner, body)
