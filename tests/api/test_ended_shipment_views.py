"""A shipment that ended without delivery, as the API and the CLI show it (issue 19, point 3): no ETA once it
will not arrive, and no carrier unless a booking was made with it (the plan's carrier is `planned_carrier`).

The workflow keeps the planned carrier and its last estimate in its state; these tests check that readers are
not shown them as if they were still true, on the real stack: a dev server, a worker, the API on a real port.
"""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from infra.platform.http_server import ServedApp
from starter.api import create_app
from tests.support import DevCallers, load_example, unique_id
from tests.workflows.test_cli import cli
from tradelane.enums import Stage, Status

pytestmark = pytest.mark.temporal


@pytest.fixture
async def api(harness) -> AsyncIterator[httpx.AsyncClient]:
    """The harness's API served on a loopback port, with each role's development key."""
    served = await ServedApp(create_app(harness.settings, client=harness.client, engine=harness.engine)).start()
    try:
        async with httpx.AsyncClient(base_url=served.url, auth=DevCallers(), timeout=10) as http:
            yield http
    finally:
        await served.stop()


async def read(api: httpx.AsyncClient, shipment_id: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The shipment as `GET /v1/shipments/{id}`, its row in `GET /v1/shipments` and its timeline show it."""
    view = await api.get(f"/v1/shipments/{shipment_id}")
    listed = await api.get("/v1/shipments", params={"status": view.json()["status"], "limit": 500})
    timeline = await api.get(f"/v1/shipments/{shipment_id}/events")
    assert (view.status_code, listed.status_code, timeline.status_code) == (200, 200, 200), view.text
    [row] = [r for r in listed.json() if r["shipment_id"] == shipment_id]
    return view.json(), row, timeline.json()


def cli_line(output: str, shipment_id: str) -> str:
    [line] = [line for line in output.splitlines() if shipment_id in line]
    return line


async def test_a_compensated_shipment_shows_no_eta(harness, api):
    """Customs refuse the goods after the booking: the booking and label are undone and the shipment will not
    arrive, yet the workflow's state still holds the ETA it estimated at booking."""
    shipment_id = unique_id("comp-eta")
    await harness.add_fault(partner="clearpath", operation="file", shipment_id=shipment_id, kind="reject",
                            code="RESTRICTED_GOODS", message="goods restricted at destination")
    await harness.start(load_example("basic-cn-de.json", shipment_id))
    state = await harness.result(shipment_id)
    assert state.status is Status.COMPENSATED and state.eta is not None, "the case this test is about"

    view, row, timeline = await read(api, shipment_id)

    assert (view["status"], view["eta"]) == ("compensated", None)
    assert (row["status"], row["eta_expected"]) == ("compensated", None)
    assert timeline["eta"] is None
    # The carrier did hold the booking (cancelled by the undo): it is still named.
    assert view["carrier"] == view["planned_carrier"] == row["carrier"] == state.carrier
    assert view["promised_date"] == str(state.promised_date), "what was promised is history, and stays"

    code, out = await cli("list", "--status", "compensated", "--limit", "500", "--api", str(api.base_url))
    assert code == 0 and str(state.eta.expected) not in cli_line(out, shipment_id)


async def test_a_shipment_rejected_before_booking_shows_no_carrier(harness, api):
    """The destination is under embargo: the plan names a carrier, the compliance check rejects the shipment, and
    nothing is ever booked."""
    shipment_id = unique_id("embargo-carrier")
    body = load_example("basic-cn-de.json", shipment_id)
    body["destination"].update(country="CU", city="Havana", postal_code="10400", locale="es-CU")
    await harness.start(body)
    state = await harness.result(shipment_id)
    assert (state.stage, state.status) == (Stage.BOOKING, Status.REJECTED)
    assert state.carrier is not None and not state.records, "planned, never booked: the case this test is about"

    view, row, _ = await read(api, shipment_id)

    assert (view["status"], view["carrier"], view["eta"]) == ("rejected", None, None)
    assert view["planned_carrier"] == state.carrier
    assert row["carrier"] is None

    code, out = await cli("status", shipment_id, "--api", str(api.base_url))
    assert code == 0 and "status=rejected" in out and "carrier=-" in out
    code, out = await cli("list", "--status", "rejected", "--limit", "500", "--api", str(api.base_url))
    assert code == 0 and state.carrier not in cli_line(out, shipment_id)
