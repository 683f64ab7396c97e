"""A shipment never waits forever on a message that cannot be sent or stored (issue 18).

Started directly through the Temporal client, as a backend going around the API might (the API refuses these
requests with a 422): an `order_ref` with CR/LF breaks every customer e-mail's subject, and a NUL in `merchant_id`
cannot be stored by PostgreSQL. Before, the e-mail's `ValueError` and the snapshot's `DataError` were retried
without limit and the delivered shipment's workflow never closed. Now each is a dead letter with one ops alert, and
the workflow closes delivered. Real Temporal dev server, sandbox partners, SMTP server and databases.
"""

import asyncio
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from activities.inventory import LEDGER_REFUSED
from infra.persistence.db import ShipmentRow
from infra.persistence.dead_letters import open_counts, open_letters
from infra.persistence.outbox import OutboxRow
from infra.platform.dev_secrets import DEV_API_KEYS
from tests.inventory.network import make_network, outbound
from tests.support import load_example, unique_id
from tradelane.enums import Status
from tradelane.keys import workflow_id
from tradelane.models import RECORDED, ShipmentRequest
from tradelane.shipment.run import ShipmentInput
from tradelane.shipment.state import ShipmentState
from workflows.shipment import ShipmentWorkflow

pytestmark = pytest.mark.temporal


async def start_directly(h: Any, body: dict[str, Any]) -> ShipmentState:
    """Start the workflow as the API would, but without the API's validation, and wait for its result."""
    request = ShipmentRequest.model_validate(body, context=RECORDED)
    settings = h.settings
    handle = await h.client.start_workflow(
        ShipmentWorkflow.run,
        ShipmentInput(request=request, timings=settings.timings(), approvals=settings.approval_policy(),
                      events_url=settings.events_url),
        id=workflow_id(request.shipment_id), task_queue=settings.task_queue, result_type=ShipmentState)
    return await asyncio.wait_for(handle.result(), 90)


def alert_rows(engine: Engine, shipment_id: str) -> list[OutboxRow]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxRow).where(OutboxRow.shipment_id == shipment_id,
                                                         OutboxRow.kind == "dead_letter")))


async def test_an_order_ref_with_a_line_break_ends_in_dead_letters_and_the_workflow_closes(harness, mail_server):
    shipment_id = unique_id("poison-crlf")
    body = load_example("basic-cn-de.json", shipment_id)
    body["order_ref"] = "PO-1\r\nBcc: everyone@example.com"

    state = await start_directly(harness, body)

    assert state.status is Status.DELIVERED
    await harness.until_notified(shipment_id)  # the relay gives up the poisoned e-mails and sends their alerts
    letters = open_letters(harness.engine, shipment_id=shipment_id)
    customer = [x for x in letters if x.message_key.endswith(":email:customer")]
    assert customer and {x.error_type for x in customer} == {"ValueError"}
    assert {x.kind for x in letters} == {"notification"}
    # One ops alert per dead letter, delivered by the outbox relay.
    alerts = alert_rows(harness.engine, shipment_id)
    assert len(alerts) == len(letters) and {a.state for a in alerts} == {"sent"}
    received = [m for m in mail_server.messages() if f"of shipment {shipment_id}" in str(m["Subject"])]
    assert len(received) == len(letters)
    assert all("everyone@example.com" not in m.get_content() for m in received)

    # Ops list them, resolve one, and the API's gauge counts what is open.
    listed = await harness.api.get("/v1/ops/dead-letters", params={"shipment_id": shipment_id})
    assert listed.status_code == 200, listed.text
    assert sorted(x["message_key"] for x in listed.json()) == sorted(x.message_key for x in letters)
    backend = {"Authorization": f"Bearer {DEV_API_KEYS['backend']}"}
    assert (await harness.api.get("/v1/ops/dead-letters", headers=backend)).status_code == 403
    with Session(harness.engine) as session:
        gauge = f'tradelane_dead_letters{{kind="notification"}} {float(open_counts(session)["notification"])}'
    assert gauge in (await harness.api.get("/metrics")).text
    ops = {"Authorization": f"Bearer {DEV_API_KEYS['ops']}"}
    resolved = await harness.api.post(f"/v1/ops/dead-letters/{letters[0].id}/resolve", headers=ops)
    assert resolved.status_code == 200 and resolved.json()["resolved_by"], resolved.text
    assert len(open_letters(harness.engine, shipment_id=shipment_id)) == len(letters) - 1
    assert (await harness.api.post("/v1/ops/dead-letters/999999999/resolve", headers=ops)).status_code == 404


async def test_a_nul_in_merchant_id_on_postgres_ends_in_a_dead_letter_and_the_workflow_closes(harness_factory,
                                                                                              pg_engine):
    async with harness_factory(engine=pg_engine) as h:
        shipment_id = unique_id("poison-nul")
        body = load_example("basic-cn-de.json", shipment_id)
        body["merchant_id"] = "shop\x00one"

        state = await start_directly(h, body)

        assert state.status is Status.DELIVERED
        [projection] = [x for x in open_letters(pg_engine, shipment_id=shipment_id) if x.kind == "projection"]
        assert (projection.message_key, projection.error_type) == (shipment_id, "DataError")
        assert projection.attempts >= 1 and "shop" not in projection.error
        await h.until_notified(shipment_id)
        with Session(pg_engine) as session:
            assert session.get(ShipmentRow, shipment_id) is None
        alerts = alert_rows(pg_engine, shipment_id)
        assert alerts and {a.state for a in alerts} == {"sent"}


async def test_a_sku_the_ledger_cannot_store_ends_the_shipment_instead_of_retrying_forever(harness_factory,
                                                                                         pg_engine):
    """Before, `inventory.reserve` retried PostgreSQL's `DataError` without limit and the shipment never moved."""
    net = make_network(pg_engine)
    async with harness_factory(engine=pg_engine) as h:
        shipment_id = unique_id("poison-sku")
        body = outbound(shipment_id, net.origin, f"{net.sku}\x00x", net.other_sku)

        state = await start_directly(h, body)

        assert (state.status, state.failure_code) == (Status.COMPENSATED, LEDGER_REFUSED)
        assert "DataError" in (state.failure or "")
