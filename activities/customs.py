"""Customs broker activities: file a declaration, release a hold, withdraw (the undo), or withdraw the filing made
under the step's key when the filing's outcome is unknown (`withdraw_by_key`)."""

from temporalio import activity

from activities.http import PartnerGateway
from activities.lookup import undo_by_key
from activities.protocols.tradelane_dialect import find_or_fence
from tradelane.partner_api import filing_body, parse_record
from tradelane.shipment.calls import PartnerCall, PartnerRecord


class CustomsActivities:
    def __init__(self, gateway: PartnerGateway) -> None:
        self._partners = gateway

    @activity.defn(name="customs.file")
    async def file(self, call: PartnerCall) -> PartnerRecord:
        """File the declaration; the answer is `cleared` or `hold` (a rejection raises PartnerRejected)."""
        assert call.request is not None, "filing needs the shipment request"
        body = await self._partners.call(call.partner, "file", "filings", filing_body(call.request, call.ref),
                                         idempotency_key=call.idempotency_key)
        return parse_record("filing", call.partner, body)

    @activity.defn(name="customs.release_hold")
    async def release_hold(self, call: PartnerCall) -> PartnerRecord:
        body = await self._partners.call(call.partner, "release_filing", f"filings/{call.ref}/release",
                                         {"shipment_id": call.shipment_id, "actor": call.actor,
                                          "comment": call.comment}, idempotency_key=call.idempotency_key)
        return parse_record("filing", call.partner, body)

    @activity.defn(name="customs.withdraw")
    async def withdraw(self, call: PartnerCall) -> PartnerRecord:
        body = await self._partners.call(call.partner, "withdraw", f"filings/{call.ref}/withdraw",
                                         {"shipment_id": call.shipment_id}, idempotency_key=call.idempotency_key)
        return parse_record("filing", call.partner, body)

    @activity.defn(name="customs.withdraw_by_key")
    async def withdraw_by_key(self, call: PartnerCall) -> PartnerRecord:
        """Withdraw the filing made under the step's key, if the broker made one (the outcome was unknown)."""
        return await undo_by_key(call, "filing", lambda key: find_or_fence(self._partners, call.partner, "filing", key),
                                 self.withdraw)
