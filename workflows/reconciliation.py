"""Reconciliation workflows: the scheduled comparison of Tradelane's bookings with the partners', and an ops retry of
one item of the reconciliation list.

`ReconciliationWorkflow` runs the `reconciliation.scan` activity (on the schedule `tradelane-reconciliation`, created
by the worker, or now through `POST /v1/ops/reconciliation/runs`), then runs the undos of open `undo_failed` items
again, each as a child `ReconciliationRetryWorkflow`: an undo whose partner was down longer than the saga's attempts
is retried every run until it succeeds, without ops (orphans wait for ops: cancelling one is a decision).
`ReconciliationRetryWorkflow` runs an item's undo
again (the same activity the saga ran, with the same idempotency key, so a retry never undoes twice) and resolves the
item when it succeeds, or records the new failure when it does not.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from tradelane.reconciliation import (
        DueRetries,
        ItemResolved,
        ItemRetryFailed,
        ReconciliationReport,
        RetryInput,
        RetryOutcome,
        ScanRequest,
    )
    from workflows.shipment.outcomes import failure_of

RETRY_PREFIX = "reconciliation-retry"
"""Workflow id of an item's retry: `reconciliation-retry:<id>`, whoever starts it (ops or a reconciliation run), so
two retries of one item never run at once."""
ACTIVITY_TIMEOUT = timedelta(minutes=2)
SCAN_TIMEOUT = timedelta(minutes=10)
UNDO_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                         maximum_interval=timedelta(seconds=30), maximum_attempts=5,
                         non_retryable_error_types=["PartnerRejected", "PartnerLookupUnsupported"])
"""An ops retry tries a few times (the saga already tried its own policy); still failing, the item stays open."""
LIST_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                         maximum_attempts=10)


@workflow.defn(name="Reconciliation")
class ReconciliationWorkflow:
    @workflow.run
    async def run(self, request: ScanRequest) -> ReconciliationReport:
        report: ReconciliationReport = await workflow.execute_activity(
            "reconciliation.scan", request, result_type=ReconciliationReport,
            start_to_close_timeout=SCAN_TIMEOUT, retry_policy=RetryPolicy(maximum_attempts=3))
        due: list[RetryInput] = await workflow.execute_activity(
            "reconciliation.due_retries", DueRetries(), result_type=list[RetryInput],
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=LIST_RETRY)
        for retry in due:
            try:
                outcome: RetryOutcome = await workflow.execute_child_workflow(
                    ReconciliationRetryWorkflow.run, retry, id=f"{RETRY_PREFIX}:{retry.item_id}",
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE)
            except WorkflowAlreadyStartedError:
                continue  # ops are retrying it right now
            report.retried += 1
            report.retried_resolved += outcome.resolved
        workflow.logger.info("reconciliation run", extra={
            "orphans": len(report.orphans), "missing": len(report.missing), "retried": report.retried,
            "retried_resolved": report.retried_resolved})
        return report


@workflow.defn(name="ReconciliationRetry")
class ReconciliationRetryWorkflow:
    @workflow.run
    async def run(self, inp: RetryInput) -> RetryOutcome:
        try:
            await workflow.execute_activity(inp.operation, inp.call, start_to_close_timeout=ACTIVITY_TIMEOUT,
                                            retry_policy=UNDO_RETRY)
        except ActivityError as err:
            error = failure_of(err)[1]
            await workflow.execute_activity(
                "reconciliation.retry_failed", ItemRetryFailed(item_id=inp.item_id, error=error),
                start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=LIST_RETRY)
            return RetryOutcome(item_id=inp.item_id, resolved=False, error=error)
        await workflow.execute_activity(
            "reconciliation.resolve", ItemResolved(item_id=inp.item_id, by=f"retry:{inp.requested_by}"),
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=LIST_RETRY)
        return RetryOutcome(item_id=inp.item_id, resolved=True)
