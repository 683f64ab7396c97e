"""ReplenishmentWorkflow: the daily run (a Temporal Schedule) that suggests replenishments, waits for ops to decide,
and starts the approved ones as ordinary shipment workflows.

Setup, then run: suggest (one activity: forecasts, stock, lanes and the policy, recorded in the history), wait for
the `decide` update until every suggestion is decided or the approval window closes, then start each approved
replenishment as a child `Shipment` workflow. Children are abandoned on close: a shipment lives its own life, and
its id (`RPL-<day>-<warehouse>-<sku>`) is the same for the same need, so a repeated run starts nothing twice.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from tradelane.inventory.models import (
        ReplenishmentInput,
        ReplenishmentState,
        Suggestion,
        SuggestionDecision,
        SuggestionState,
        SuggestRequest,
    )
    from tradelane.keys import workflow_id
    from tradelane.shipment.run import ShipmentInput
    from workflows import visibility as sa
    from workflows.shipment import ShipmentWorkflow

ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                             maximum_attempts=0)


@workflow.defn(name="Replenishment")
class ReplenishmentWorkflow:
    @workflow.init
    def __init__(self, inp: ReplenishmentInput) -> None:
        self._input = inp
        self._state = ReplenishmentState(run_id=workflow.info().workflow_id)

    @workflow.run
    async def run(self, inp: ReplenishmentInput) -> ReplenishmentState:
        state = self._state
        state.as_of = inp.as_of or workflow.now().date()
        result = await workflow.execute_activity_method(
            InventoryActivities.suggest, SuggestRequest(run_id=state.run_id, as_of=state.as_of,
                                                        merchant_id=inp.merchant_id),
            start_to_close_timeout=timedelta(minutes=10), retry_policy=ACTIVITY_RETRY)
        state.suggestions, state.skipped = result.suggestions, result.skipped
        if state.suggestions:
            state.status = "awaiting_approval"
            workflow.logger.info("replenishment awaiting approval", extra={"suggestions": len(state.suggestions)})
            try:
                await workflow.wait_condition(lambda: not self._proposed(), timeout=inp.approval_timeout)
            except TimeoutError:
                for s in self._proposed():
                    s.state, s.note = SuggestionState.EXPIRED, f"undecided after {inp.approval_timeout}"
            state.status = "starting"
            await self._start_approved()
            await self._record()
        state.status = "done"
        await workflow.wait_condition(workflow.all_handlers_finished)
        return state

    def _proposed(self) -> list[Suggestion]:
        return [s for s in self._state.suggestions if s.state is SuggestionState.PROPOSED]

    async def _start_approved(self) -> None:
        """Each approved suggestion becomes a shipment, started like one from the API (same input, search
        attributes and memo)."""
        inp = self._input
        for s in self._state.suggestions:
            if s.state is not SuggestionState.APPROVED:
                continue
            request = s.request
            attributes, memo = sa.start_attributes(request)
            try:
                await workflow.start_child_workflow(
                    ShipmentWorkflow.run,
                    ShipmentInput(request=request, timings=inp.timings, approvals=inp.approvals,
                                  events_url=inp.events_url),
                    id=workflow_id(request.shipment_id),
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    parent_close_policy=ParentClosePolicy.ABANDON,
                    search_attributes=attributes, memo=memo)
            except WorkflowAlreadyStartedError:
                s.note = "started by an earlier run of the same day"
            s.state, s.shipment_id = SuggestionState.STARTED, request.shipment_id
            workflow.logger.info("replenishment started", extra={"shipment_id": request.shipment_id,
                                                                 "sku": s.sku, "quantity": s.quantity})

    async def _record(self) -> None:
        await workflow.execute_activity_method(
            InventoryActivities.record_suggestions, self._state.suggestions,
            start_to_close_timeout=timedelta(seconds=30), retry_policy=ACTIVITY_RETRY)

    @workflow.query(name="state")
    def state(self) -> ReplenishmentState:
        return self._state

    @workflow.update(name="decide")
    async def decide(self, decision: SuggestionDecision) -> ReplenishmentState:
        """Approve or reject suggestions by id (or all still proposed); the rest stay proposed."""
        approve = set(decision.approve)
        for s in self._proposed():
            if s.suggestion_id in decision.reject:
                s.state = SuggestionState.REJECTED
            elif s.suggestion_id in approve or decision.approve_all:
                s.state = SuggestionState.APPROVED
            else:
                continue
            s.decided_by, s.comment = decision.actor, decision.comment or None
        self._state.decisions.append(decision)
        return self._state

    @decide.validator
    def _validate_decide(self, decision: SuggestionDecision) -> None:
        if self._state.status != "awaiting_approval":
            raise ApplicationError(f"run is {self._state.status}, not awaiting approval", type="NotAwaitingApproval",
                                   non_retryable=True)
        known = {s.suggestion_id: s for s in self._state.suggestions}
        for field in ("approve", "reject"):
            for index, sid in enumerate(getattr(decision, field)):
                if sid not in known:
                    raise ApplicationError(f"{field}[{index}]: no suggestion {sid!r} in this run",
                                           type="UnknownSuggestion", non_retryable=True)
                if known[sid].state is not SuggestionState.PROPOSED:
                    raise ApplicationError(f"{field}[{index}]: {sid} is already {known[sid].state}",
                                           type="AlreadyDecided", non_retryable=True)
        both = set(decision.approve) & set(decision.reject)
        if both:
            raise ApplicationError(f"approve and reject both name {sorted(both)[0]}", type="Contradiction",
                                   non_retryable=True)
        if not (decision.approve or decision.reject or decision.approve_all):
            raise ApplicationError("approve, reject or approve_all must name something", type="EmptyDecision",
                                   non_retryable=True)
