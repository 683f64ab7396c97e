"""What one activation of the workflow has asked for: lets the projector and the search-attribute board wait until
the rest of the activation has run, and then write everything it changed at once (lean histories)."""

from temporalio import workflow


class Activation:
    """A counter of changes asked for (snapshots, search attributes) and a wait for it to stop moving."""

    def __init__(self) -> None:
        self.changes = 0

    def changed(self) -> None:
        self.changes += 1

    async def settled(self) -> None:
        """Return once the other coroutines of this activation have run as far as they can. The SDK checks workflow
        conditions only when no coroutine is ready, and one woken by another's end (a task awaiting a task) runs in
        the pass after, so wait two passes, and more while changes are still asked for. No timer, nothing in the
        history."""
        await workflow.wait_condition(lambda: True)
        seen = self.changes
        while True:
            await workflow.wait_condition(lambda: True)
            if self.changes == seen:
                return
            seen = self.changes
