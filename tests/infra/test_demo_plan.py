"""`make demo`'s shipments as the decision layer plans them with the sandbox's quotes: its express examples go
with two different carriers, each spoken to in its own API through Karrio, and the pallets by a DCSA ocean line."""

import httpx

from activities.decisions import DecisionActivities
from activities.http import PartnerGateway
from devstack.demo import EXPRESS_EXAMPLES, plan_demo
from sandbox.app import create_app as create_sandbox_app
from sandbox.config import SandboxConfig
from tradelane.connections import PartnerProtocol, connection
from tradelane.models import ShipmentRequest
from tradelane.rules import default_book
from tradelane.shipment.calls import AssessRequest


async def planned_carriers(titles: tuple[str, ...]) -> dict[str, str]:
    """The main-leg carrier the decision activity chooses for each demo shipment titled so."""
    shipments = [s for s in plan_demo("0000000000") if s.title in titles]
    sandbox = create_sandbox_app(SandboxConfig())
    chosen = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox), base_url="http://sandbox") as http:
        decisions = DecisionActivities(PartnerGateway(http, "http://sandbox"), default_book())
        for s in shipments:
            result = await decisions.assess(AssessRequest(request=ShipmentRequest.model_validate(s.body)))
            assert result.assessment.plan is not None, s.title
            chosen[s.title] = result.assessment.plan.main_leg.partner
    return chosen


async def test_the_express_examples_fly_with_two_karrio_carriers() -> None:
    chosen = await planned_carriers(EXPRESS_EXAMPLES)
    assert set(chosen) == set(EXPRESS_EXAMPLES)
    assert {connection(carrier).protocol for carrier in chosen.values()} == {PartnerProtocol.KARRIO}
    assert len(set(chosen.values())) == 2, chosen


async def test_the_pallets_sail_with_a_dcsa_line() -> None:
    chosen = await planned_carriers(("pallet-cn-au",))
    assert connection(chosen["pallet-cn-au"]).protocol is PartnerProtocol.DCSA
