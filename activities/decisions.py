"""The decision activity: ask partners for quotes on every candidate leg, then run the pure decision layer.

Running the decisions in an activity records them in the workflow history, so changing the rule data never changes
how an existing history replays, and a shipment keeps the decision it was booked on.
"""

import asyncio
import time
from datetime import timedelta

import structlog
from temporalio import activity
from temporalio.common import MetricHistogramTimedelta, MetricMeter
from temporalio.exceptions import ApplicationError

from activities.errors import PARTNER_REJECTED
from activities.http import PartnerGateway
from tradelane.decisions.assess import assess
from tradelane.decisions.models import Quote
from tradelane.decisions.planner import LegSpec, candidate_legs
from tradelane.decisions.screening import ScreeningList
from tradelane.eta import eta_basis
from tradelane.models import ShipmentRequest
from tradelane.rules import RuleBook
from tradelane.shipment.calls import AssessRequest, AssessResult

log = structlog.stdlib.get_logger(__name__)


async def gather_quotes(gateway: PartnerGateway, request: ShipmentRequest,
                        legs: list[LegSpec]) -> tuple[list[Quote], dict[str, str], list[str]]:
    """Quotes per leg, the legs partners declined (`partner:origin-destination` -> code), and notes.

    A partner that is down or slow is not a reason to stop planning: its legs are priced from the rate table and
    the note says so. A decline (4xx) is the partner's answer and rules the leg out.
    """

    async def one(spec: LegSpec) -> Quote | tuple[str, str]:
        try:
            return await gateway.carrier(spec.partner).quote(gateway.http, gateway.endpoint(spec.partner), request,
                                                             spec.origin, spec.destination)
        except ApplicationError as err:
            code = str(err.details[0]) if err.details else (err.type or "ERROR")
            return ("declined" if err.type == PARTNER_REJECTED else "unavailable", code)

    # One quote per partner and lane: FCL and LCL legs of the same carrier share its quote.
    unique = list({(s.partner, s.origin, s.destination): s for s in legs}.values())
    answers = await asyncio.gather(*(one(spec) for spec in unique))
    quotes, declined, notes = [], {}, []
    for spec, answer in zip(unique, answers):
        lane = f"{spec.partner}:{spec.origin}-{spec.destination}"
        if isinstance(answer, Quote):
            quotes.append(answer)
        elif answer[0] == "declined":
            declined[lane] = answer[1]
        else:
            notes.append(f"{lane}: quote unavailable ({answer[1]}), priced from the rate table")
    return quotes, declined, notes


DECISION_METRIC = "tradelane_decision_duration"
"""Histogram of the decision layer's CPU time per assessment (planner, compliance, landed cost, ETA basis; the
thread's CPU time, so a core shared with other work does not inflate it), quotes excluded: exported as
`tradelane_decision_duration_seconds` on the worker's Prometheus endpoint."""


def decision_time(meter: MetricMeter) -> MetricHistogramTimedelta:
    return meter.create_histogram_timedelta(
        DECISION_METRIC, "Decision layer time per assessment (planner, compliance, landed cost), quotes excluded",
        unit="duration")


class DecisionActivities:
    def __init__(self, gateway: PartnerGateway, book: RuleBook, screening: ScreeningList | None = None) -> None:
        self._partners = gateway
        self._book = book
        self._screening = screening

    @activity.defn(name="decisions.assess")
    async def assess(self, req: AssessRequest) -> AssessResult:
        request = req.request
        legs = [leg for leg in candidate_legs(request, self._book) if leg.partner not in req.exclude_partners]
        quotes, declined, notes = await gather_quotes(self._partners, request, legs)
        started = time.thread_time()  # CPU of this thread: what the decision costs, not the wait for a busy core
        result = assess(request, self._book, quotes=quotes, declined=declined,
                        exclude_partners=req.exclude_partners, screening=self._screening, notes=notes)
        log.info("assessed", shipment_id=request.shipment_id, plan=result.plan.plan_id if result.plan else None,
                 verdict=result.compliance.verdict.value, quotes=len(quotes), declined=len(declined))
        # The calendars are looked up here, once: the workflow's ETA revisions then never depend on the
        # holidays library's version, and replays stay deterministic across upgrades.
        basis = None if result.plan is None else eta_basis(result.plan, result.last_mile.chosen, request, self._book)
        if activity.in_activity():  # also called directly (the reliability plan checks its facts with it)
            decision_time(activity.metric_meter()).record(timedelta(seconds=time.thread_time() - started))
        return AssessResult(assessment=result, eta_basis=basis)
