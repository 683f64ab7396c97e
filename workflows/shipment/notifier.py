"""Notices: what the workflow decides to tell the customer, the merchant and ops. The projection writes them to the
outbox with the snapshot carrying them (`projector.py`), and the outbox relay delivers them
(`activities.notifications.OutboxRelay`). Shipments from before the relay (`RELAY_DELIVERS`) keep their delivery
loop: a `notifications.deliver` activity once each such snapshot is committed."""

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from activities.notifications import DeliverRequest, DeliveryReport, NotificationActivities
    from tradelane.enums import NoticeKind
    from tradelane.shipment.state import Notice, ShipmentState
    from workflows.shipment.patches import CLOSE_WITH_HELD_MESSAGES, DEAD_LETTERS, RELAY_DELIVERS
    from workflows.shipment.projector import dead_lettered

NOTIFIER_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0,
                             maximum_interval=timedelta(minutes=5), maximum_attempts=0)
"""Delivery is retried without limit here: the outbox itself gives a message up after its own attempt limit (as a
dead letter), and an error that would repeat on every retry fails the activity non-retryable (`DeadLettered`)."""


class Notifier:
    """Records notices in the state; `request_projection` asks the read model to take the new notice, and the outbox
    relay sends what it implies. The workflow issues no command of its own for a notice.

    Before the relay delivered (histories without `RELAY_DELIVERS`), the notifier also had the outbox deliver the
    shipment's rows, sleeping until quiet hours ended while the shipment moved; once the outcome was final
    (`close`), what was due was delivered and the workflow closed, leaving what was held to the relay.
    """

    def __init__(self, state: ShipmentState, *, request_projection: Callable[[], None]) -> None:
        self._state = state
        self._request_projection = request_projection
        self._requested = False
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._held: datetime | None = None
        """When the outbox's earliest held message is due, as its last delivery reported."""
        self._leave_held: bool | None = None
        """Whether closing leaves held messages to the relay: asked once, and only when something is held."""
        self._relayed: bool | None = None
        """Whether the outbox relay delivers this shipment's notices: asked once, at the first notice (or close)."""

    def notify(self, kind: NoticeKind, *, customer: bool = True, ops: bool = False, **fields: Any) -> None:
        state = self._state
        state.notices.append(Notice(seq=len(state.notices), kind=kind, at=workflow.now(), customer=customer,
                                    ops=ops, eta=state.eta, promised_date=state.promised_date, **fields))
        if not self._relay_delivers() and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._run())
        self._request_projection()

    def notify_once(self, kind: NoticeKind, **fields: Any) -> None:
        if not any(n.kind is kind for n in self._state.notices):
            self.notify(kind, **fields)

    def _relay_delivers(self) -> bool:
        """Whether the outbox relay delivers this shipment's notices, not the workflow (`RELAY_DELIVERS`)."""
        if self._relayed is None:
            self._relayed = workflow.patched(RELAY_DELIVERS)
        return self._relayed

    def request_delivery(self) -> None:
        """A snapshot with new notices is committed: the outbox has messages to send."""
        self._requested = True

    def deliver_alerts(self) -> None:
        """A dead letter's ops alert is in the outbox: deliver it, even when no notice started the delivery loop
        (the relay sends it when it delivers)."""
        if self._relay_delivers():
            return
        self._requested = True
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    def resume(self) -> None:
        """A continued run delivers what the previous one left: messages held for quiet hours, or notices whose
        snapshot was still being written (the relay sends them when it delivers)."""
        if self._state.notices and not self._relay_delivers():
            self._requested = True
            self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """The last notices (delivered, say) go out before the workflow closes; held ones are the relay's. When the
        relay delivers, nothing is waited for: the outbox holds them once their snapshot is written."""
        if self._task is None and self._relay_delivers():
            return
        if self._held is not None and self._held > workflow.now():
            self._leaves_held()  # decided before the loop can wake on `_closing`
        self._closing = True
        if self._task is not None:
            await self._task

    def _leaves_held(self) -> bool:
        """Closing with messages held back: leave them to the outbox relay. Histories from before the patch slept
        until they were due and delivered them itself; they keep doing so."""
        if self._leave_held is None:
            self._leave_held = workflow.patched(CLOSE_WITH_HELD_MESSAGES)
        return self._leave_held

    def _relays(self, held: datetime | None) -> bool:
        """Whether what is held until `held` is the relay's: closing leaves it, and it is not due yet."""
        return bool(self._leave_held) and held is not None and held > workflow.now()

    async def _run(self) -> None:
        next_due: datetime | None = None
        while True:
            timeout = None if next_due is None else max(next_due - workflow.now(), timedelta(seconds=1))
            try:
                await workflow.wait_condition(lambda held=next_due: self._requested or (
                    self._closing and (held is None or self._relays(held))), timeout=timeout)
            except TimeoutError:
                pass  # quiet hours are over: deliver what was held back
            if not self._requested and (next_due is None or (self._closing and self._relays(next_due))):
                return  # closing, and nothing is waiting (or what waits is the relay's)
            self._requested = False
            try:
                report: DeliveryReport = await workflow.execute_activity_method(
                    NotificationActivities.deliver, DeliverRequest(shipment_id=self._state.shipment_id),
                    start_to_close_timeout=timedelta(minutes=5), heartbeat_timeout=timedelta(minutes=1),
                    retry_policy=NOTIFIER_RETRY)
            except ActivityError as err:
                # Only an activity of today's code fails this way; asked here, so older histories never see the patch.
                if is_cancelled_exception(err) or not dead_lettered(err) or not workflow.patched(DEAD_LETTERS):
                    raise
                workflow.logger.error("notification delivery given up", extra={"error": str(err)})
                next_due = self._held = None  # what is left in the outbox is the dead letters'; a new notice asks again
                continue
            next_due = self._held = report.next_due
            if (self._closing and not self._requested and next_due is not None and next_due > workflow.now()
                    and self._leaves_held()):
                return  # the outcome is final: what is held is the relay's to send
