"""Last-mile activities: schedule the delivery slot, release it (the undo), or release the slot made under the
step's key when the scheduling's outcome is unknown (`release_by_key`).

A courier with a published API (a Karrio carrier such as Roadie) is booked as a delivery through its adapter: the
delivery is the slot. The others speak Tradelane's dialect.
"""

from temporalio import activity

from activities.http import PartnerGateway
from activities.lookup import find_or_replay, undo_by_key
from activities.protocols.base import replays_create
from activities.protocols.tradelane_dialect import find_or_fence
from tradelane.connections import PartnerProtocol, connection
from tradelane.partner_api import parse_record, slot_body
from tradelane.shipment.calls import PartnerCall, PartnerRecord


class LastMileActivities:
    def __init__(self, gateway: PartnerGateway) -> None:
        self._partners = gateway

    @activity.defn(name="last_mile.schedule")
    async def schedule(self, call: PartnerCall) -> PartnerRecord:
        assert call.request is not None, "scheduling needs the shipment request"
        if connection(call.partner).protocol is not PartnerProtocol.TRADELANE:
            gw = self._partners
            booked = await gw.carrier(call.partner).book(gw.http, gw.endpoint(call.partner), call)
            return booked.model_copy(update={"kind": "slot"})
        body = await self._partners.call(call.partner, "schedule", "slots",
                                         slot_body(call.request, call.tracking_number, call.events_url, call.ready_at),
                                         idempotency_key=call.idempotency_key)
        return parse_record("slot", call.partner, body)

    @activity.defn(name="last_mile.release")
    async def release(self, call: PartnerCall) -> PartnerRecord:
        if connection(call.partner).protocol is not PartnerProtocol.TRADELANE:
            gw = self._partners
            cancelled = await gw.carrier(call.partner).cancel_booking(gw.http, gw.endpoint(call.partner), call)
            return cancelled.model_copy(update={"kind": "slot", "state": "released"})
        body = await self._partners.call(call.partner, "release_slot", f"slots/{call.ref}/release",
                                         {"shipment_id": call.shipment_id}, idempotency_key=call.idempotency_key)
        return parse_record("slot", call.partner, body)

    @activity.defn(name="last_mile.release_by_key")
    async def release_by_key(self, call: PartnerCall) -> PartnerRecord:
        """Release the slot (a Karrio courier's delivery) made under the step's key, if the partner made one."""
        gw = self._partners
        protocol = connection(call.partner).protocol
        if protocol is not PartnerProtocol.TRADELANE:
            async def lookup(key: str) -> PartnerRecord | None:
                return await gw.carrier(call.partner).find(gw.http, gw.endpoint(call.partner), "booking", key)

            async def replay(key: str) -> PartnerRecord:
                return await self.schedule(call.model_copy(update={"idempotency_key": key, "ref": None}))

            find = find_or_replay(lookup, replay if call.request is not None and replays_create(protocol) else None)
        else:
            async def find(key: str) -> PartnerRecord | None:
                return await find_or_fence(gw, call.partner, "slot", key)
        return await undo_by_key(call, "slot", find, self.release)
