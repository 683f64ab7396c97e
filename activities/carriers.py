"""Carrier activities: book, label, hand over, and their undos (quotes are asked by `decisions.assess`).

Each speaks the carrier's own protocol through the adapter its connection names (`activities.protocols`). The
`*_by_key` undos take back what a booking or label step made when its outcome is unknown (`activities.lookup`).
"""

import structlog
from temporalio import activity

from activities.http import PartnerGateway
from activities.lookup import Replay, find_or_replay, undo_by_key
from activities.protocols.base import replays_create
from tradelane.connections import connection
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
        find = find_or_replay(lambda key: self._find(call.partner, "booking", key), self._replay_booking(call))
        return await undo_by_key(call, "booking", find, self.cancel_booking)

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

    def _replay_booking(self, call: PartnerCall) -> Replay | None:
        """The booking sent again under the step's key, where the carrier's create is idempotent by that key and
        the undo carries the request (`find_or_replay`)."""
        if call.request is None or not replays_create(connection(call.partner).protocol):
            return None

        async def replay(key: str) -> PartnerRecord:
            return await self.book(call.model_copy(update={"idempotency_key": key, "ref": None}))

        return replay

    async def _find(self, partner: str, kind: str, key: str) -> PartnerRecord | None:
        gw = self._partners
        return await gw.carrier(partner).find(gw.http, gw.endpoint(partner), kind, key)
