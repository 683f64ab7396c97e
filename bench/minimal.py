"""Workload M of `make bench`: what a user would write instead of Tradelane, by hand, on Temporal.

`MinimalWorkflow` makes the same partner calls as a Tradelane shipment of the same example (book, label, file
customs, hand over each leg, schedule the last mile), through the same protocol adapters to the same sandbox
emulators, and waits for the same tracking: a leg's arrival, then the delivery. A partner that pushes its events
sends them, signed, to M's own ingress (bench/minimal_ingress.py), which signals them one by one; a partner that
has no webhooks is polled by one long-running activity that signals each new event, as Tradelane does. There is no
decision layer (the calls are the ones Tradelane decided, taken from its history at warm-up), no read model, no
notifications, no search attributes, no saga and no gates.

The steps are taken from a fetched Tradelane history (`partner_steps`) and rebound to a new shipment id
(`rebind`); both are pure apart from decoding payloads through the client's data converter.
"""

import asyncio
import json
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.common import RetryPolicy
from temporalio.converter import DataConverter

with workflow.unsafe.imports_passed_through():
    from activities.http import PartnerGateway
    from tradelane.connections import event_delivery
    from tradelane.enums import TrackingStatus

WORKFLOW_NAME = "BenchMinimal"
SIGNAL = "tracking"
POLL = "bench.minimal.poll"
CALLS = ("carrier.book", "carrier.create_label", "customs.file", "carrier.handover", "last_mile.schedule")
"""The partner calls M makes, by Tradelane's activity names (M's worker registers Tradelane's adapters' activities)."""
WAITS = {"carrier.handover": TrackingStatus.ARRIVED_AT_DESTINATION, "last_mile.schedule": TrackingStatus.DELIVERED}
"""After these calls the workflow waits for the partner to report this status."""
CALL_TIMEOUT = timedelta(seconds=30)
POLL_TIMEOUT = timedelta(minutes=10)
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                    non_retryable_error_types=["PartnerRejected"])


def workflow_id(shipment_id: str) -> str:
    """M's workflow of a shipment (the ingress signals it by the event's shipment id)."""
    return f"minimal:{shipment_id}"


class Step(BaseModel):
    """One partner call, as Tradelane made it for the example (rebound to M's shipment by `rebind`)."""

    activity: str
    call: dict[str, Any]
    """The `PartnerCall` as JSON."""
    result: dict[str, Any] | None = None
    """What the partner answered Tradelane (its refs are replaced by what it answers M)."""
    until: TrackingStatus | None = None
    """Status to wait for from the partner after this call."""
    polled: bool = False
    """The partner has no webhooks: M polls it."""


class MinimalInput(BaseModel):
    shipment_id: str
    steps: list[Step]
    poll_interval_s: float = 0.5


class PollRequest(BaseModel):
    workflow_id: str
    shipment_id: str
    partner: str
    booking_ref: str
    tracking_number: str | None = None
    until: TrackingStatus
    interval_s: float


async def partner_steps(history: WorkflowHistory, converter: DataConverter) -> list[Step]:
    """The partner calls of a Tradelane shipment's history, in the order scheduled, with their answers."""
    scheduled: dict[int, Step] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs = event.activity_task_scheduled_event_attributes
            name = attrs.activity_type.name
            if name in CALLS:
                [call] = await converter.decode(attrs.input.payloads)
                until = WAITS.get(name)
                scheduled[event.event_id] = Step(activity=name, call=call, until=until,
                                                 polled=until is not None and event_delivery(call["partner"]).polled)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attrs_c = event.activity_task_completed_event_attributes
            step = scheduled.get(attrs_c.scheduled_event_id)
            if step is not None and attrs_c.result.payloads:
                [step.result] = await converter.decode(attrs_c.result.payloads)
    return list(scheduled.values())


def rebind(steps: list[Step], old_id: str, new_id: str, events_url: str) -> list[Step]:
    """The steps for shipment `new_id`: every mention of `old_id` (ids, idempotency keys, the request) replaced, and
    every pushed event sent to `events_url`. Pure."""
    text = json.dumps([s.model_dump(mode="json") for s in steps]).replace(json.dumps(old_id)[1:-1],
                                                                        json.dumps(new_id)[1:-1])
    bound = [Step.model_validate(s) for s in json.loads(text)]
    for step in bound:
        if step.call.get("events_url") is not None:
            step.call["events_url"] = events_url
    return bound


def rewrite_refs(call: dict[str, Any], answers: dict[str, str]) -> dict[str, Any]:
    """`call` with the references Tradelane's partners answered (`ref`, `tracking_number`) replaced by the ones
    M's got for the same records. Pure."""
    return {k: answers.get(v, v) if k in ("ref", "tracking_number") and isinstance(v, str) else v
            for k, v in call.items()}


def learn_refs(answers: dict[str, str], told_tradelane: dict[str, Any] | None, told_m: dict[str, Any] | None) -> None:
    """Remember which of M's references stand for Tradelane's (same record, same field). Pure."""
    for key in ("ref", "tracking_number"):
        old, new = (told_tradelane or {}).get(key), (told_m or {}).get(key)
        if isinstance(old, str) and isinstance(new, str):
            answers[old] = new


@workflow.defn(name=WORKFLOW_NAME)
class MinimalWorkflow:
    """The shipment as a user would write it: call each partner in turn, wait for the tracking, done."""

    def __init__(self) -> None:
        self._events: dict[str, dict[str, Any]] = {}

    @workflow.run
    async def run(self, inp: MinimalInput) -> str:
        answers: dict[str, str] = {}
        records: dict[str, dict[str, Any]] = {}  # by ref: a leg is polled by its booking's ref and tracking number
        for step in inp.steps:
            call = rewrite_refs(step.call, answers)
            result = await workflow.execute_activity(step.activity, call, start_to_close_timeout=CALL_TIMEOUT,
                                                     retry_policy=RETRY, result_type=dict)  # type: ignore[call-overload]
            learn_refs(answers, step.result, result)
            if isinstance(result, dict) and isinstance(result.get("ref"), str):
                records[result["ref"]] = result
            if step.until is None:
                continue
            partner = call["partner"]
            if step.polled:
                record = records.get(call.get("ref") or "") or result or {}
                await workflow.execute_activity(
                    POLL, PollRequest(workflow_id=workflow.info().workflow_id, shipment_id=inp.shipment_id,
                                      partner=partner, booking_ref=record.get("ref", ""),
                                      tracking_number=record.get("tracking_number"), until=step.until,
                                      interval_s=inp.poll_interval_s),
                    start_to_close_timeout=POLL_TIMEOUT, retry_policy=RETRY)
            await workflow.wait_condition(lambda p=partner, u=step.until: self._reported(p, u))  # type: ignore[misc]
        return "delivered"

    def _reported(self, partner: str, status: TrackingStatus) -> bool:
        return any(e["partner"] == partner and e["status"] == status for e in self._events.values())

    @workflow.signal(name=SIGNAL)
    def tracking(self, event: dict[str, Any]) -> None:
        self._events.setdefault(f"{event['partner']}:{event['event_id']}", event)


class MinimalActivities:
    """M's only activity of its own: poll a partner without webhooks and signal each new event."""

    def __init__(self, gateway: PartnerGateway) -> None:
        self._partners = gateway

    @activity.defn(name=POLL)
    async def poll(self, req: PollRequest) -> int:
        handle = activity.client().get_workflow_handle(req.workflow_id)
        gw, seen = self._partners, 0
        while True:
            # A failed poll fails the attempt; the retry signals again from the start and the workflow keeps each
            # event once.
            events = await gw.carrier(req.partner).track(gw.http, gw.endpoint(req.partner), req.shipment_id,
                                                         req.booking_ref, req.tracking_number)
            for event in events[seen:]:
                await handle.signal(SIGNAL, {"partner": req.partner, "event_id": event.event_id,
                                             "status": event.status.value})
            seen = max(seen, len(events))
            if any(event.status is req.until for event in events):
                return seen
            activity.heartbeat(seen)
            await asyncio.sleep(req.interval_s)
