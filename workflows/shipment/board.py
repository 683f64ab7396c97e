"""The search-attribute board: what ops filter shipments by in the Web UI (`workflows/visibility.py`)."""

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from workflows import visibility as sa
    from workflows.shipment.activation import Activation

FOLLOWERS = frozenset({sa.ETA.name, sa.CARRIER.name, sa.MODE.name})
"""Attributes that follow the shipment's stage and status: a revised ETA (every tracking event may revise it), the
carrier and mode chosen before booking. Shown with the next upsert of a stage or status change (or of what ops
filter for attention: a gate, an escalation, an exception, a failure code), and at the end of every run."""


def _news(update: SearchAttributeUpdate[Any]) -> bool:
    """Whether ops must see this value in the activation that changed it."""
    if update.key.name in FOLLOWERS:
        return False
    # An escalation is news; `false` (a shipment's first, or the end of a gate) comes with the status that goes with it.
    return not (update.key.name == sa.ESCALATED.name and update.value is False)


class SearchAttributeBoard:
    """Shows search attributes. In a lean history they are collected and written at the end of the activation, in
    one upsert of the values that changed, so the server shows the same values at the end of every workflow task as
    when each was upserted at once; before the lean-history patch every `show` is an upsert of its own.

    With `quiet` (the stage-or-status patch) an activation that changes only followers (`FOLLOWERS`: the ETA of a
    tracking event, the carrier chosen before booking) upserts nothing: they wait for the next stage or status change
    and go in its upsert. A shipment upserts about once per stage instead of once per tracking event.
    """

    def __init__(self, *, lean: bool, activation: Activation, quiet: bool = False) -> None:
        self._lean, self._quiet = lean, quiet
        self._activation = activation
        # As the server shows them (a continued run inherits them), and those set since the last upsert.
        self._shown: dict[str, Any] = {pair.key.name: pair.value for pair in workflow.info().typed_search_attributes}
        self._due: dict[str, SearchAttributeUpdate[Any]] = {}
        self._writer: asyncio.Task[None] | None = None

    def show(self, *updates: SearchAttributeUpdate[Any]) -> None:
        if not self._lean:
            workflow.upsert_search_attributes(list(updates))
            return
        for update in updates:
            self._due[update.key.name] = update
        self._activation.changed()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_when_settled())

    async def _write_when_settled(self) -> None:
        try:
            await self._activation.settled()
        finally:  # also when a cancellation request interrupts the wait: what was set is shown now
            self.flush(followers=not self._quiet)

    def flush(self, *, followers: bool = True) -> None:
        """Write the search attributes set since the last upsert whose value differs from the one shown; with
        `followers=False`, only when one of them is news (not a follower), followers kept for later otherwise."""
        changed = {name: u for name, u in self._due.items() if self._shown.get(name) != u.value}
        if not followers and not any(_news(u) for u in changed.values()):
            self._due = changed
            return
        self._due = {}
        if changed:
            workflow.upsert_search_attributes(list(changed.values()))
            self._shown.update((name, u.value) for name, u in changed.items())
