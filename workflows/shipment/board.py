"""The search-attribute board: what ops filter shipments by in the Web UI (`workflows/visibility.py`)."""

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

from workflows.shipment.activation import Activation


class SearchAttributeBoard:
    """Shows search attributes. In a lean history they are collected and written at the end of the activation, in
    one upsert of the values that changed, so the server shows the same values at the end of every workflow task as
    when each was upserted at once; before the lean-history patch every `show` is an upsert of its own."""

    def __init__(self, *, lean: bool, activation: Activation) -> None:
        self._lean = lean
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
            self.flush()

    def flush(self) -> None:
        """Write the search attributes set since the last upsert whose value differs from the one shown."""
        due, self._due = self._due, {}
        changed = [u for name, u in due.items() if self._shown.get(name) != u.value]
        if changed:
            workflow.upsert_search_attributes(changed)
            self._shown.update((u.key.name, u.value) for u in changed)
