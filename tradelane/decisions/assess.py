"""One call for every decision about a shipment: plan, compliance, landed cost, marking, last mile, carbon.

Pure and deterministic: the same request, quotes and rule data give the same Assessment. The workflow runs it in an
activity (`decisions.assess`), so the decision is recorded in the history and a rule-data change never makes an
old history replay differently; the API runs it directly for `POST /v1/quotes`.
"""

from collections.abc import Iterable, Mapping
from decimal import Decimal

from tradelane.decisions.carbon import shipment_emissions
from tradelane.decisions.dangerous_goods import assess_dangerous_goods
from tradelane.decisions.documents import required_documents
from tradelane.decisions.fx import FxUnavailable, convert
from tradelane.decisions.hs_codes import check_hs_codes
from tradelane.decisions.landed_cost import landed_cost
from tradelane.decisions.last_mile import choose_last_mile
from tradelane.decisions.marking import CarrierLimit, marking
from tradelane.decisions.models import (
    Assessment,
    Compliance,
    Finding,
    Money,
    Quote,
    Severity,
    TransportPlan,
    worst,
)
from tradelane.decisions.planner import plan_shipment
from tradelane.decisions.restricted import check_restricted
from tradelane.decisions.sanctions import check_sanctions
from tradelane.decisions.screening import ScreeningList, default_screening_list, screen_parties
from tradelane.decisions.waste import packaging_waste
from tradelane.models import ShipmentRequest
from tradelane.partners import PARTNERS
from tradelane.rules import RuleBook


def compliance(request: ShipmentRequest, book: RuleBook, screening: ScreeningList | None = None,
               extra: Iterable[Finding] = ()) -> Compliance:
    """The compliance gate: HS codes, restricted goods, sanctions, denied parties, plus `extra` (dangerous goods)."""
    findings = [
        *check_sanctions(request, book),
        *screen_parties(request, screening or default_screening_list(book)),
        *check_restricted(request, book),
        *check_hs_codes(request, book),
        *extra,
    ]
    return Compliance(verdict=worst(findings), findings=findings)


def assess(request: ShipmentRequest, book: RuleBook, *, quotes: Iterable[Quote] = (),
           declined: Mapping[str, str] | None = None, exclude_partners: Iterable[str] = (),
           screening: ScreeningList | None = None, notes: Iterable[str] = ()) -> Assessment:
    """Every decision for `request`, each with its reasons.

    Args:
        request: The shipment.
        book: Rule tables, chosen by the request's ship date.
        quotes: Partner quotes per lane (see `planner.plan_shipment`).
        declined: `partner:origin-destination` to the partner's reason for not quoting.
        exclude_partners: Partners that failed for good on this shipment.
        screening: The denied-party list; the packaged sample when None.
        notes: Reasons from the caller (e.g. quotes that were unavailable), kept in the result.
    """
    dg = assess_dangerous_goods(request, book)
    last_mile = choose_last_mile(request, book)
    last_mile_days = last_mile.chosen.sla_days if last_mile.chosen else 0
    plans = plan_shipment(request, book, dg, quotes=quotes, declined=declined, exclude_partners=exclude_partners,
                          last_mile_days=last_mile_days)
    plan = plans.chosen
    gate = compliance(request, book, screening, _dg_findings_for(dg.findings, plan))
    reasons = [*notes, *plans.reasons, *last_mile.reasons]
    limits = [CarrierLimit(partner=name, max_parcel_kg=PARTNERS[name].max_parcel_kg,
                           max_parcel_length_cm=PARTNERS[name].max_parcel_length_cm)
              for name in dict.fromkeys(plan.partners if plan else [])]
    marks = marking(request, book, carrier_limits=limits, dg_marks=dg.marks, dg_labels=dg.labels)
    documents = required_documents(request, plan.modes if plan else [], book, dg)
    emissions = landed = None
    if plan is not None:
        emissions = shipment_emissions([leg.emission for leg in plan.legs], packaging_waste(request, book))
        freight = plan.cost.amount
        if last_mile.chosen is not None:
            try:
                amount, how = convert(last_mile.chosen.cost.amount, last_mile.chosen.cost.currency, request.currency,
                                      request.ship_date, book)
                freight += amount
                reasons.append(f"freight includes last mile with {last_mile.chosen.partner}"
                               + (f" ({how})" if last_mile.chosen.cost.currency != request.currency else ""))
            except FxUnavailable as err:
                reasons.append(f"last-mile cost left out of the landed cost: {err}")
        loading = sum((hit.insurance_loading_pct for hit in plan.risk.hits), Decimal("0"))
        landed = landed_cost(request, Money(amount=freight, currency=request.currency), book,
                             insurance_loading_pct=loading)
    return Assessment(
        shipment_id=request.shipment_id, ship_date=request.ship_date, plan=plan, alternatives=plans.alternatives,
        backups=[p.plan_id for p in plans.ranked[1:]], rejected_plans=plans.rejected, landed_cost=landed,
        emissions=emissions, compliance=gate, documents=documents, marking=marks,
        risk_score=plan.risk.score if plan else None, last_mile=last_mile,
        excluded_partners=sorted(set(exclude_partners)), reasons=reasons,
    )


def _dg_findings_for(findings: list[Finding], plan: TransportPlan | None) -> list[Finding]:
    """Dangerous-goods findings that forbid only air: the planner already kept air legs out, so with a plan
    they are a warning (the reason air was ruled out), not a reason to reject the shipment."""
    if plan is None:
        return findings
    return [
        f.model_copy(update={"severity": Severity.WARNING, "message": f"{f.message} (the plan has no air leg)"})
        if f.details.get("applies_to") == "air" and f.severity is Severity.BLOCK else f
        for f in findings
    ]


def blocking(assessment: Assessment) -> list[Finding]:
    return [f for f in assessment.compliance.findings if f.severity is Severity.BLOCK]


def holding(assessment: Assessment) -> list[Finding]:
    return [f for f in assessment.compliance.findings if f.severity is Severity.HOLD]
