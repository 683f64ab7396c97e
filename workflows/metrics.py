"""Business metrics, recorded from workflow code through `workflow.metric_meter()`.

The workflow's meter is replay-safe: nothing is recorded while a worker replays history (after a restart, a cache
eviction or a continue-as-new), so each shipment counts once. The SDK adds ``namespace``, ``task_queue`` and
``workflow_type`` to every series; the labels here are low-cardinality enums only (never a shipment, merchant or
lane, which would make one series per value).

Exported through the worker's Prometheus endpoint (`infra.platform.telemetry.make_runtime`) as::

    tradelane_shipments_started_total
    tradelane_shipments_finished_total{status}
    tradelane_stage_duration_seconds_{bucket,sum,count}{stage}
    tradelane_approval_wait_seconds_{bucket,sum,count}{gate,decision}
    tradelane_compensations_total{status}
    tradelane_undo_steps_total{status}
    tradelane_undo_failures_total

The names below are the recorded ones and must stay stable: dashboards and alerts are built on them.
"""

from temporalio import workflow

SHIPMENTS_STARTED = "tradelane_shipments_started"
SHIPMENTS_FINISHED = "tradelane_shipments_finished"
STAGE_DURATION = "tradelane_stage_duration"
APPROVAL_WAIT = "tradelane_approval_wait"
COMPENSATIONS = "tradelane_compensations"
UNDO_STEPS = "tradelane_undo_steps"
UNDO_FAILURES = "tradelane_undo_failures"

SECONDS = "seconds"


# Instruments are made per call: creating one from the workflow's meter is cheap, and it keeps this module free of
# state that would outlive a workflow run (the meter belongs to the run).
def shipment_started() -> None:
    """A shipment workflow started (its first run, not a continue-as-new)."""
    workflow.metric_meter().create_counter(SHIPMENTS_STARTED, "Shipments started").add(1)


def shipment_finished(status: str) -> None:
    """A shipment ended with a terminal `status` (delivered, compensated, rejected, cancelled)."""
    workflow.metric_meter().with_additional_attributes({"status": status}).create_counter(
        SHIPMENTS_FINISHED, "Shipments that reached a terminal status").add(1)


def stage_completed(stage: str, seconds: float) -> None:
    """A shipment left `stage` after `seconds` (workflow time, so waits for partners and ops count)."""
    workflow.metric_meter().with_additional_attributes({"stage": stage}).create_histogram_float(
        STAGE_DURATION, "Time a shipment spent in a stage", SECONDS).record(max(seconds, 0.0))


def approval_decided(gate: str, decision: str, waited_seconds: float) -> None:
    """Ops decided `gate` (``approve`` or ``reject``) `waited_seconds` after it opened."""
    workflow.metric_meter().with_additional_attributes({"gate": gate, "decision": decision}).create_histogram_float(
        APPROVAL_WAIT, "Time an approval gate waited for its decision", SECONDS).record(max(waited_seconds, 0.0))


def compensated(status: str, undone: int, failed: int) -> None:
    """The undo steps ran for a shipment ending `status`: `undone` succeeded, `failed` kept failing."""
    meter = workflow.metric_meter()
    by_status = meter.with_additional_attributes({"status": status})
    by_status.create_counter(COMPENSATIONS, "Shipments whose completed steps were undone").add(1)
    by_status.create_counter(UNDO_STEPS, "Undo steps that succeeded").add(max(undone, 0))
    # Added even when 0, so the series exists from the first compensation and an alert on its rate has data.
    meter.create_counter(UNDO_FAILURES, "Undo steps that still failed after their retries").add(max(failed, 0))
