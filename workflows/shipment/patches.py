"""`workflow.patched` ids of the shipment workflow, each with the date it came and when it can go.

A change to the commands a shipment issues goes behind one of these, so histories recorded before it replay
unchanged (`tests/workflows/test_replay.py` replays committed ones).
"""

FAILURE_CODE = "failure-code-search-attribute"
"""The TradelaneFailureCode upsert (2026-11); deprecate once no older shipment runs."""

FINISH_STEP_ON_CANCEL = "finish-step-on-cancel"
"""(2026-11) A cancellation waits for the partner step in flight instead of abandoning it."""

LEAN_HISTORY = "lean-history"
"""(2026-12) A smaller history: search attributes are upserted only when their value changes, at most once per
activation; the read model is written by a local activity (one marker instead of three activity events and a
workflow task), and one snapshot carries everything an activation changed. Deprecate once no shipment from before
it runs."""

INVENTORY = "inventory-ledger"
"""(2026-11) The stock-ledger steps; deprecate once no shipment from before it runs."""

POLL_PUSHING_PARTNERS = "poll-pushing-partners"
"""(2026-12) A partner whose connection reports tracking by webhook *and* polling is polled as well; before, only
poll-only partners were. Deprecate once no shipment from before it runs."""

POLL_LAST_MILE = "poll-last-mile"
"""(2026-12) A last-mile partner that does not push its events (a courier tracked through Karrio, such as Roadie) is
polled until delivered; before, every last-mile partner pushed. Deprecate once no shipment from before it runs."""

UNCERTAIN_OUTCOMES = "uncertain-outcomes"
"""(2026-12) A partner step that fails for good after the partner may have acted pushes an undo that looks up what
the partner made under the step's idempotency key and takes it back, and an undo that still fails is recorded on the
reconciliation list (`reconciliation.record`). Deprecate once no shipment from before it runs."""

DEAD_LETTERS = "dead-letters"
"""(2026-12) A read-model snapshot or a notification delivery that can never succeed is given up as a dead letter
(non-retryable `DeadLettered`): the workflow moves on instead of waiting for it forever, and delivers the dead
letter's ops alert. Deprecate once no shipment from before it runs."""

ENDING_NOTICES = "ending-notices"
"""(2026-12) A shipment that ends compensated, rejected or cancelled records a notice of it (`shipment.<status>`
webhook, ops alert, and the customer's e-mail when they were told something before), which is delivered like any
notice. Deprecate once no shipment from before it runs."""

CLOSE_WITH_HELD_MESSAGES = "close-with-held-messages"
"""(2026-12) A shipment whose outcome is final closes once its due messages are delivered; messages held for quiet
hours stay in the outbox for the relay, instead of the workflow sleeping until they are due. Deprecate once no
shipment from before it runs."""

RELAY_DELIVERS = "relay-delivers"
"""(2026-12) The workflow only records notices (the projection writes them to the outbox in its transaction) and the
outbox relay delivers them in batches; before, the workflow ran a `notifications.deliver` activity after each
snapshot with notices and when held messages came due. Deprecate once no shipment from before it runs (the
`notifications.deliver` activity goes with it)."""

QUIET_ATTRIBUTES = "attributes-on-stage-or-status"
"""(2026-12) Search attributes are upserted when the stage or status changes (or a gate, an escalation, an exception,
a failure code: what ops filter for attention); a revised ETA and the carrier chosen before booking go with the next
such upsert instead of one of their own (`workflows/shipment/board.py`). Deprecate once no shipment from before it
runs."""

OVERWRITE_PHANTOMS = "overwrite-phantom-snapshots"
"""(2026-12) A snapshot the read model refuses because it holds that version or a newer one is written again over
it (`ProjectionUpdate.overwrite`): within a shipment's completed tasks versions only grow, so what the row holds came
from a local-activity projection of a task lost with its worker, and the run again may number other content the
same. Before, the refused snapshot counted as written and the read model kept the lost task's state (the fault
matrix found a cancelled shipment shown `delayed`, its cancellation notice never in the outbox). Asked at the
run's first projection request. Deprecate once no shipment from before it runs."""
