"""The event intake asks the shipment only what the read model cannot answer (`starter/event_intake.py`).

A query that comes with a workflow task while a local activity runs trips Core's race
(`test_local_activity_query_race.py`); at a continue-as-new it lost the next task's signal (a long voyage kept 304
of 305 events). So a partner's event whose reference the read model already shows goes to the shipment without a
query, and only an unconfirmed one is for the workflow to refuse or accept."""

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import Client, Interceptor, OutboundInterceptor, QueryWorkflowInput

from starter.errors import ApiError
from starter.event_intake import accept_event
from tests.support import by_road, unique_id
from tradelane.enums import TrackingStatus
from tradelane.shipment.events import CarrierEvent

pytestmark = pytest.mark.temporal


class CountQueries(Interceptor):
    def __init__(self) -> None:
        self.asked: list[str] = []

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        outer = self

        class Counting(OutboundInterceptor):
            async def query_workflow(self, input: QueryWorkflowInput) -> Any:
                outer.asked.append(input.query)
                return await super().query_workflow(input)

        return Counting(next)


def counting(client: Client) -> tuple[Client, CountQueries]:
    counter = CountQueries()
    return Client(**{**client.config(), "interceptors": [counter]}), counter


def event(state, n: int, **refs: str | None) -> CarrierEvent:
    first = state.events[0]
    return CarrierEvent(event_id=f"test:{state.shipment_id}:intake:{n}", partner=refs.pop("partner", "roadlink"),
                        shipment_id=state.shipment_id, code="LINEHAUL", status=TrackingStatus.IN_TRANSIT,
                        occurred_at=first.occurred_at + timedelta(hours=n), **refs)


def digest(e: CarrierEvent) -> str:
    return hashlib.sha256(e.model_dump_json().encode()).hexdigest()


async def test_an_event_the_read_model_confirms_reaches_the_shipment_without_a_query(harness_factory):
    async with harness_factory(stall_after_s=60) as h:
        shipment_id = unique_id("intake")
        await h.add_fault(partner="roadlink", operation="handover", shipment_id=shipment_id, kind="scenario",
                          scenario="stalled")
        await h.start(by_road(shipment_id))
        state = await h.wait_until(shipment_id, lambda s: s.events_received >= 2)
        client, counter = counting(h.client)

        confirmed = event(state, 1, tracking_number=state.tracking_number)
        assert await accept_event(client, h.engine, confirmed, digest(confirmed)) is False
        assert counter.asked == [], "the read model holds RoadLink's booking and its tracking number"
        state = await h.wait_until(shipment_id, lambda s: s.events_received >= 3)
        assert confirmed.event_id in {e.event_id for e in state.events}

        # Not in the read model: the workflow is asked, and refuses.
        unknown = event(state, 2, tracking_number="NOT-A-REFERENCE")
        with pytest.raises(ApiError) as refused:
            await accept_event(client, h.engine, unknown, digest(unknown))
        assert (refused.value.status, refused.value.code) == (404, "UNKNOWN_REFERENCE")
        stranger = event(state, 3, partner="skyhop", tracking_number=state.tracking_number)
        with pytest.raises(ApiError) as refused:
            await accept_event(client, h.engine, stranger, digest(stranger))
        assert (refused.value.status, refused.value.code) == (403, "PARTNER_NOT_ON_SHIPMENT")
        assert counter.asked == ["event_refusal", "event_refusal"]
        assert (await h.state(shipment_id)).events_received == 3, "refused events change nothing"
