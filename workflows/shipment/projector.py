"""The projector: keeps the read model (the API's tables, the outbox) in step with the workflow's state.

The workflow is the truth and the tables follow, without the shipment waiting for them. Snapshots asked for while
one is being written are folded into the next; only events and notices not yet written travel with a snapshot, so
payloads stay small on long voyages, and each snapshot names what changed since the last one the read model accepted
(`Since`: transitions, gates, records, the row's columns), so the writer writes only that. A snapshot the database
refuses for good is a dead letter (the activity fails non-retryable `DeadLettered`): the projector counts it as
done, so the workflow never waits for it, and the next snapshot is tried afresh (the events and notices of the
refused one are not sent again).
"""

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, FailureError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.poison import DEAD_LETTERED
    from activities.read_model import ReadModelActivities
    from tradelane.shipment.calls import PartnerRecord
    from tradelane.shipment.projection import ProjectionUpdate, Recipient, Since, shown
    from tradelane.shipment.run import Resume, ShipmentInput
    from tradelane.shipment.state import Gate, ShipmentState
    from workflows.shipment.activation import Activation
    from workflows.shipment.patches import DEAD_LETTERS, OVERWRITE_PHANTOMS

PROJECTION_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30),
                               maximum_attempts=0)
"""Without limit: a database outage delays the tables, never the shipment, and they catch up when it returns."""

LOCAL_PROJECTION_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=250), backoff_coefficient=2.0,
                                     maximum_attempts=3)
"""A few quick tries inside the workflow task (a locked SQLite file, a dropped connection); a database that stays
away is left to `PROJECTION_RETRY` on a normal activity. A local activity retried without limit would either hold
the workflow task open for the whole outage (backoffs under its `local_retry_threshold`) or add a timer and a
workflow task to the history for every attempt (backoffs over it)."""

LOCAL_PROJECTION_RETRY_THRESHOLD = timedelta(seconds=5)
"""Above every backoff of `LOCAL_PROJECTION_RETRY`, so its few retries stay inside the workflow task: no timers."""

LOCAL_PROJECTION_TIMEOUT = timedelta(seconds=10)
"""Per attempt of the local projection; the workflow task is heartbeated meanwhile."""


def dead_lettered(err: BaseException) -> bool:
    """Whether an activity's failure (or its cause) says its message was given up as a dead letter."""
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, ApplicationError) and cause.type == DEAD_LETTERED:
            return True
        cause = cause.__cause__
    return False


class Projector:
    """One projection in flight at a time, always with the newest snapshot.

    `on_notices_written` is called once a snapshot carrying new notices is committed: the outbox has them to send;
    `on_dead_letter` once a snapshot was given up as a dead letter: the outbox has its ops alert to send.
    """

    def __init__(self, inp: ShipmentInput, state: ShipmentState, *, lean: bool, activation: Activation,
                 on_notices_written: Callable[[], None], on_dead_letter: Callable[[], None] | None = None) -> None:
        self._input, self._state, self._lean, self._activation = inp, state, lean, activation
        self._on_notices_written = on_notices_written
        self._on_dead_letter = on_dead_letter
        resume: Resume | None = inp.resume
        self.wanted = self.written = 0 if resume is None else resume.projected_version
        self.events_projected = 0 if resume is None else resume.events_projected
        self.notices_projected = 0 if resume is None else resume.notices_projected
        self._task: asyncio.Task[None] | None = None
        # The last snapshot of this run the read model accepted: its version, transitions, gates, records and row.
        self._accepted: tuple[int, int, list[Gate], list[PartnerRecord], dict[str, Any]] | None = None
        self._overwrites: bool | None = None
        """Whether a refused snapshot is written again over a lost task's (`OVERWRITE_PHANTOMS`), asked at the run's
        first request: a deterministic point, never right after a local activity's result."""

    def request(self) -> None:
        """Ask for the read model to catch up, without waiting."""
        if self._overwrites is None:
            self._overwrites = workflow.patched(OVERWRITE_PHANTOMS)
        self.wanted += 1
        self._activation.changed()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    def caught_up(self) -> bool:
        return self.written >= self.wanted

    async def _run(self) -> None:
        req = self._input.request
        dest = req.destination
        recipient = Recipient(email=dest.email, locale=dest.locale, country=dest.country, region=dest.region)
        while self.written < self.wanted:
            if self._lean:
                await self._activation.settled()  # what the rest of this activation changes goes in the same snapshot
            target, state = self.wanted, self._state
            events = [e for e in state.events if e.received_seq > self.events_projected]
            notices = state.notices[self.notices_projected:]
            snapshot = state.model_copy(update={"events": []}, deep=True)
            row = shown(snapshot)
            update = ProjectionUpdate(version=target, state=snapshot, events=[e.model_copy() for e in events],
                                      notices=[n.model_copy() for n in notices], recipient=recipient,
                                      order_ref=req.order_ref, since=self._since(snapshot, row))
            accepted = await self._write(update)
            if accepted is False and self._overwrites:
                # The row holds this version or a newer one, which no completed task of ours wrote: a lost task's.
                workflow.logger.warning("read model held a lost task's snapshot; writing this one over it",
                                        extra={"version": target})
                accepted = await self._write(update.model_copy(update={"since": None, "overwrite": True}))
            self.written = target
            self.events_projected = max([self.events_projected, *(e.received_seq for e in events)])
            self.notices_projected += len(notices)
            # Only a snapshot the read model took is a base for the next one's changes (`Since`).
            self._accepted = ((target, len(snapshot.transitions), snapshot.gates, snapshot.records, row) if accepted
                              else None)
            if accepted is None:
                if self._on_dead_letter is not None:
                    self._on_dead_letter()
            elif notices:
                self._on_notices_written()

    def _since(self, snapshot: ShipmentState, row: dict[str, Any]) -> Since | None:
        """What `snapshot` (whose shipment row is `row`) changes since the last snapshot the read model accepted
        (None: none yet this run)."""
        if self._accepted is None:
            return None
        version, transitions, gates, records, accepted_row = self._accepted
        if len(snapshot.transitions) < transitions or len(snapshot.gates) < len(gates) or len(
                snapshot.records) < len(records):
            return None  # never in a run's completed tasks; the whole snapshot is compared then
        return Since(version=version, transitions=transitions,
                     gates=[i for i, gate in enumerate(snapshot.gates) if i >= len(gates) or gate != gates[i]],
                     records=[i for i, record in enumerate(snapshot.records)
                              if i >= len(records) or record != records[i]],
                     shown=[name for name, value in row.items() if accepted_row.get(name) != value])

    async def _write(self, update: ProjectionUpdate) -> bool | None:
        """Write one snapshot: whether the read model took it (False: it held this version or a newer one), None
        when it was given up as a dead letter."""
        try:
            if self._lean:
                return await self._write_locally(update)
            return await workflow.execute_activity_method(
                ReadModelActivities.project, update, start_to_close_timeout=timedelta(seconds=30),
                retry_policy=PROJECTION_RETRY)
        except FailureError as err:
            # Only an activity of today's code fails this way; asked here, so older histories never see the patch.
            if not dead_lettered(err) or not workflow.patched(DEAD_LETTERS):
                raise
            workflow.logger.error("read model snapshot given up as a dead letter",
                                  extra={"version": update.version, "error": str(err)})
            return None

    async def _write_locally(self, update: ProjectionUpdate) -> bool:
        """A local activity: one marker in the history, and usually no workflow task of its own. When the database
        does not answer within its few quick tries, a normal activity takes over the same snapshot and retries it
        without limit on the server: an outage of any length adds a bounded number of events, holds no workflow
        task open, and the shipment goes on meanwhile."""
        try:
            return await workflow.execute_local_activity_method(
                ReadModelActivities.project, update, start_to_close_timeout=LOCAL_PROJECTION_TIMEOUT,
                retry_policy=LOCAL_PROJECTION_RETRY, local_retry_threshold=LOCAL_PROJECTION_RETRY_THRESHOLD)
        except FailureError as err:  # a local activity's failure arrives as its cause (ApplicationError, timeout)
            if is_cancelled_exception(err):
                raise
            if dead_lettered(err) and workflow.patched(DEAD_LETTERS):
                raise  # the database refused this snapshot for good: another try as an activity would too
            workflow.logger.warning("read model unavailable, projection retried as an activity",
                                    extra={"version": update.version, "error": str(err)})
            return await workflow.execute_activity_method(
                ReadModelActivities.project, update, start_to_close_timeout=timedelta(seconds=30),
                retry_policy=PROJECTION_RETRY)
