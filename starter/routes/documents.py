"""Trade documents of a shipment request as PDF: the commercial invoice (freight and insurance from the chosen
plan) and the packing list."""

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import Response

from starter.auth import Reader
from starter.deps import BookDep, ScreeningDep
from tradelane.decisions.assess import assess
from tradelane.decisions.models import Money
from tradelane.decisions.pdf import commercial_invoice_pdf, packing_list_pdf
from tradelane.models import ShipmentRequest

router = APIRouter()


@router.post("/v1/documents/{document}", response_class=Response,
             responses={200: {"content": {"application/pdf": {}}}})
async def document(document: Literal["commercial-invoice", "packing-list"], body: ShipmentRequest,
                   book: BookDep, screening: ScreeningDep, caller: Reader) -> Response:
    """The commercial invoice or packing list of a request, as PDF (freight from the chosen plan); a backend asks
    only for its own merchants (403 naming `merchant_id` otherwise)."""
    caller.may_act_for(body.merchant_id)
    if document == "packing-list":
        pdf = packing_list_pdf(body)
    else:
        a = assess(body, book, screening=screening)
        freight = Money(amount=a.landed_cost.freight, currency=body.currency) if a.landed_cost else None
        insurance = (Money(amount=a.landed_cost.insurance, currency=body.currency)
                     if a.landed_cost and a.landed_cost.insurance else None)
        pdf = commercial_invoice_pdf(body, freight=freight, insurance=insurance)
    filename = f"{document}-{body.shipment_id}.pdf"
    return Response(content=pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
