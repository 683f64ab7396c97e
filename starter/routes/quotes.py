"""Quotes: every decision for a shipment request (plans, landed cost, documents, compliance), without starting
anything. Partners quote as they do for a workflow."""

from fastapi import APIRouter
from pydantic import BaseModel

from activities.decisions import gather_quotes
from starter.auth import Reader
from starter.deps import BookDep, GatewayDep, ScreeningDep
from tradelane.decisions.assess import assess
from tradelane.decisions.models import (
    Assessment,
    Compliance,
    Emissions,
    Finding,
    LandedCost,
    LastMileChoice,
    RejectedPlan,
    RequiredDocument,
    TransportPlan,
)
from tradelane.decisions.planner import candidate_legs
from tradelane.models import ShipmentRequest

router = APIRouter(tags=["quotes"])


class QuoteView(BaseModel):
    """`POST /v1/quotes`: every decision for a request, without starting anything."""

    shipment_id: str
    plan: TransportPlan | None
    alternatives: list[TransportPlan]
    rejected_plans: list[RejectedPlan]
    landed_cost: LandedCost | None
    emissions_kg_co2e: float | None
    emissions: Emissions | None
    documents: list[RequiredDocument]
    marks: list[str]
    labels: list[str]
    label_language: str
    packaging_violations: list[Finding]
    compliance: Compliance
    risk_score: float | None
    last_mile: LastMileChoice
    reasons: list[str]

    @classmethod
    def of(cls, a: Assessment) -> "QuoteView":
        return cls(
            shipment_id=a.shipment_id, plan=a.plan, alternatives=a.alternatives, rejected_plans=a.rejected_plans,
            landed_cost=a.landed_cost, emissions_kg_co2e=a.emissions_kg_co2e, emissions=a.emissions,
            documents=a.documents, marks=a.marking.marks, labels=a.marking.labels,
            label_language=a.marking.label_language, packaging_violations=a.marking.violations,
            compliance=a.compliance, risk_score=a.risk_score, last_mile=a.last_mile, reasons=a.reasons)


@router.post("/v1/quotes", summary="Quote a shipment", response_model=QuoteView)
async def quote(body: ShipmentRequest, gateway: GatewayDep, book: BookDep, screening: ScreeningDep,
                caller: Reader) -> QuoteView:
    """Plans, landed cost and every other decision for a request; nothing is started or booked. A backend asks
    only for its own merchants (403 naming `merchant_id` otherwise)."""
    caller.may_act_for(body.merchant_id)
    legs = candidate_legs(body, book)
    quotes, declined, notes = await gather_quotes(gateway, body, legs)
    return QuoteView.of(assess(body, book, quotes=quotes, declined=declined, screening=screening, notes=notes))
