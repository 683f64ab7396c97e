"""An outage that opens at the first call it hits (`FaultRule.lasts_s`): a partner down for minutes from the moment a
shipment needs it, however late that is (a window fixed at submission would close before a delayed call arrives)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import FakeClock, MakeSandbox

Payload = Callable[..., dict[str, Any]]
BOOKINGS = "/partners/aerocargo/bookings"


async def test_a_lasting_outage_opens_at_its_first_call_per_shipment(
    make_sandbox: MakeSandbox, payload: Payload, fake_clock: FakeClock
) -> None:
    sb = await make_sandbox(clock=fake_clock, faults=[
        {"partner": "aerocargo", "operation": "book", "kind": "outage", "lasts_s": 120}])

    async def book(shipment_id: str) -> int:
        response = await sb.client.post(BOOKINGS, json=payload("booking", shipment_id=shipment_id),
                                        headers={"Idempotency-Key": f"k-{shipment_id}"})
        return response.status_code

    fake_clock.advance(500)  # long after the sandbox started: the outage has not begun for anyone yet
    assert await book("shp-1") == 503
    fake_clock.advance(119.9)
    assert await book("shp-1") == 503
    # Another shipment's first call opens its own window now.
    assert await book("shp-2") == 503
    fake_clock.advance(0.1)
    assert await book("shp-1") == 201
    assert await book("shp-2") == 503
    fake_clock.advance(120)
    assert await book("shp-2") == 201
    assert len(await sb.records()) == 2
