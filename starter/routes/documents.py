"""Trade documents of a shipment request as PDF: the commercial invoice and the packing list.

The invoice's freight and insurance are those of the plan the shipment is booked on: for a shipment already
started, the plan its workflow booked (after any switch to a backup plan); for a request not started yet, the plan
a quote chooses now, from the partners' live quotes exactly as `POST /v1/quotes` and the workflow do. Either way
the invoice's freight is the landed cost's (plan plus last mile), so quote, landed cost and invoice show one
figure. The seller block and the tax numbers come from the merchant's profile (`/v1/merchants/{id}/profile`).
"""

from datetime import timedelta
from typing import Literal

import structlog
from fastapi import APIRouter
from fastapi.responses import Response
from sqlmodel import Session
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowQueryFailedError
from temporalio.service import RPCError

from activities.decisions import gather_quotes
from infra.persistence.merchants import get_profile
from starter.auth import Reader
from starter.deps import BookDep, EngineDep, GatewayDep, ScreeningDep, SettingsDep, TemporalDep
from starter.errors import ApiError, is_not_found, is_unavailable, temporal_unavailable
from tradelane.decisions.assess import assess
from tradelane.decisions.documents import SellerProfile, booked_charges, registrations
from tradelane.decisions.models import Assessment, TransportPlan
from tradelane.decisions.pdf import commercial_invoice_pdf, packing_list_pdf
from tradelane.decisions.planner import candidate_legs
from tradelane.keys import workflow_id
from tradelane.models import ShipmentRequest
from tradelane.shipment.state import ShipmentState
from workflows.shipment import ShipmentWorkflow

log = structlog.stdlib.get_logger(__name__)

router = APIRouter()


@router.post("/v1/documents/{document}", tags=["documents"], summary="A trade document as PDF",
             response_class=Response,
             responses={200: {"content": {"application/pdf": {}}}})
async def document(document: Literal["commercial-invoice", "packing-list"], body: ShipmentRequest,
                   book: BookDep, screening: ScreeningDep, gateway: GatewayDep, client: TemporalDep,
                   engine: EngineDep, settings: SettingsDep, caller: Reader) -> Response:
    """The commercial invoice or packing list of a request, as PDF. The invoice's freight is the booked plan's
    (the started shipment's, else the plan a quote chooses now); a backend asks only for its own merchants (403
    naming `merchant_id` otherwise)."""
    caller.may_act_for(body.merchant_id)
    if document == "packing-list":
        pdf = packing_list_pdf(body)
    else:
        with Session(engine) as session:
            row = get_profile(session, body.merchant_id)
            profile = SellerProfile.model_validate(row.model_dump()) if row is not None else None
        booked = await _booked(client, body, timedelta(seconds=settings.query_timeout_s))
        if booked is None:
            quotes, declined, notes = await gather_quotes(gateway, body, candidate_legs(body, book))
            decided, plan = assess(body, book, quotes=quotes, declined=declined, screening=screening,
                                   notes=notes), None
        else:
            decided, plan = booked
        found = registrations(body, decided.landed_cost, profile, book) if decided.landed_cost else []
        pdf = commercial_invoice_pdf(body, charges=booked_charges(decided, plan), profile=profile,
                                     seller_registrations=found)
    filename = f"{document}-{body.shipment_id}.pdf"
    return Response(content=pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


async def _booked(client: Client, body: ShipmentRequest,
                  timeout: timedelta) -> tuple[Assessment, TransportPlan | None] | None:
    """The started shipment's decisions and the plan it is booked on; None when no shipment of this merchant has
    the request's id, or it was never assessed (another merchant's shipment is treated as absent: ids do not leak).
    """
    handle = client.get_workflow_handle(workflow_id(body.shipment_id), result_type=ShipmentState)
    try:
        description = await handle.describe()
        if description.status == WorkflowExecutionStatus.COMPLETED:
            state = await handle.result(rpc_timeout=timeout)
        elif description.status != WorkflowExecutionStatus.RUNNING:
            return None  # failed or terminated: no state to read
    except RPCError as err:
        if is_not_found(err):
            return None
        if is_unavailable(err):
            raise temporal_unavailable(f"whether shipment {body.shipment_id} is booked, and on which plan, "
                                       "cannot be read now") from None
        raise
    if description.status == WorkflowExecutionStatus.RUNNING:
        try:
            state = await handle.query(ShipmentWorkflow.state, rpc_timeout=timeout)
        except (RPCError, WorkflowQueryFailedError) as err:
            log.warning("query failed, no invoice", shipment_id=body.shipment_id, error=str(err))
            raise ApiError(503, "STATE_UNAVAILABLE", f"shipment {body.shipment_id} is running but no worker "
                           "answered; the invoice's freight is its booked plan's: try again") from None
    if state.merchant_id != body.merchant_id or state.assessment is None:
        return None
    return state.assessment, state.plan
