"""The Web UI filters `make demo` suggests, run on a dev server against the demo's own scenarios once they are over
(issue 19, point 11)."""

import asyncio

from devstack.demo import CHOSEN_CARRIER, WEB_UI_FILTERS, plan_demo
from tradelane.enums import Status
from tradelane.keys import workflow_id


async def found_by(harness, query: str, ids: list[str]) -> set[str]:
    """The workflow ids among `ids` that `query` finds (visibility is eventually consistent: wait a little)."""
    scoped = f"({query}) AND WorkflowId IN ({', '.join(repr(i).replace(chr(39), chr(34)) for i in ids)})"
    found: set[str] = set()
    for _ in range(50):
        found = {w.id async for w in harness.client.list_workflows(scoped)}
        if found:
            break
        await asyncio.sleep(0.1)
    return found


async def test_every_suggested_filter_finds_what_the_demo_made(harness):
    """Finding (issue 19): the demo suggested `TradelaneExceptions = "late"`, which finds nothing once the late
    shipment is delivered (the attribute lists open exceptions). Each suggested filter finds a demo shipment after
    the fact."""
    shipments = {s.title: s for s in plan_demo(harness.settings.task_queue[-10:])}
    failing, embargoed, late = (shipments["customs rejects"], shipments["embargoed destination"],
                                shipments["missed connection: late"])
    for s in (failing, late):
        for rule in s.faults:
            if rule.get("partner") == CHOSEN_CARRIER:  # as the demo does: the carrier the plan chooses
                quote = await harness.api.post("/v1/quotes", json=s.body)
                rule["partner"] = quote.json()["plan"]["legs"][0]["partner"]
            await harness.add_fault(**rule)
    for s in (failing, embargoed, late):
        await harness.start(s.body)
    assert (await harness.result(failing.shipment_id)).status is Status.COMPENSATED
    assert (await harness.result(embargoed.shipment_id)).status is Status.REJECTED
    gate = (await harness.until_held(late.shipment_id)).pending_gates[0].kind.value
    approved = await harness.api.post(f"/v1/shipments/{late.shipment_id}/approvals", json={
        "gate": gate, "decision": "approve", "actor": "demo-ops@tradelane", "comment": "checked"})
    assert approved.status_code == 200, approved.text
    done = await harness.result(late.shipment_id)
    assert done.status is Status.DELIVERED and "late" in [e.kind.value for e in done.exceptions], done.exceptions
    ids = [workflow_id(s.shipment_id) for s in (failing, embargoed, late)]

    expected = {'TradelaneStatus = "compensated"': failing, 'TradelaneFailureCode = "RESTRICTED_GOODS"': failing,
                'TradelaneStatus = "rejected"': embargoed, 'TradelaneDestination = "JP"': late}
    assert [query for query, _ in WEB_UI_FILTERS] == list(expected)
    for query, shipment in expected.items():
        assert await found_by(harness, query, ids) == {workflow_id(shipment.shipment_id)}, query
    # The old suggestion: the late shipment was late, and is delivered now; the filter no longer finds it.
    assert await found_by(harness, 'TradelaneExceptions = "late"', ids) == set()
