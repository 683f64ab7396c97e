"""The fault matrix (`make reliability`): hundreds of shipments through real processes with injected partner faults,
crashes, restarts and hostile input, audited against the sandbox's records, the read model and the ledgers.

- `config`: the run's timings (retry budget, compressed clock), shared by the plan and the processes.
- `catalogue`: the scenarios (example request, faults, ops actions), the batch-wide disruptions, and the facts about
  each example the expectations rely on.
- `plan`: `build_plan(n, seed)`, the deterministic batch, with each shipment's expected terminal statuses and the
  dead letters and reconciliation items its faults call for.
- `processes`: the dev server, sandbox and mail server in-process; worker and API as child processes.
- `disruptions`: worker SIGKILLs, dev-server restarts and downtime, API restarts, partner outages and a locked read
  model at shares of the batch.
- `intrusions`: poisoned requests, forged and replayed partner events, a poisoned notification behind the API.
- `driver`: the closed loop that submits, acts as ops (and as an attacker), waits, and collects the evidence.
- `ledgers`: the dead letters and reconciliation items at the end, and ops retrying an item.
- `audit`: pure checks over the evidence: terminal, duplicates, orphans, lost, intrusions, ledgers explained.
- `report`: the tables; `__main__` prints them and the last line.

What each fault proves
----------------------

Partner faults are installed per shipment in the sandbox (`sandbox.faults`, `sandbox.aftermath`); the expected
status is derived from them (`plan.expected_statuses`), never written by hand.

- 5xx bursts, 429 with Retry-After, timeouts before the partner acts, slow answers, outages of a few seconds: retries
  with backoff absorb them; the idempotency key makes every retry harmless (no duplicate), the shipment delivers.
- Refusals (4xx) of a booking, label or handover: the next plan without that carrier is booked and the refused plan's
  records are undone (no orphan); refusals after booking, holds and stalls decided by ops: compensation undoes every
  step in reverse, or the shipment ends as ops decide.
- `act_then_timeout` once: the partner made the record and the answer was lost; the retry under the same key gets
  that record back (no duplicate). For good (every attempt): the step fails with its outcome unknown, and Tradelane
  must find the record by its key and adopt or undo it (no orphan), or put it on the reconciliation list.
- `garbled` (a success whose body is cut in half): the partner acted, the answer does not parse; a non-retryable
  bad response, so the same lookup by key must leave nothing behind.
- Outages of minutes (`LONG_OUTAGE_S`, beyond any step's retry budget): the step fails for good and the shipment takes
  its backup or is compensated; an undo that cannot reach its partner must land on the reconciliation list (a
  reconciliation item the audit requires), and ops retrying it once the partner is back must release the record.
- Worker SIGKILL, dev-server restart, API restart: nothing lost, no duplicate; a lost `201` is retried into a `409`.
- The dev server down for a minute (`temporal_down`, same history file): the submissions retried through the gap
  all start exactly once and every workflow resumes and ends; the report counts the API's 503s and any submission it
  left unanswered past the client's 10 s (it should answer, not hang).
- The read model locked by another writer for longer than its busy timeout (`database_lock`; for SQLite a held write
  transaction is the realistic outage, a moved file would be silently recreated empty): writes fail with "database
  is locked" and are retried; the read model still matches every workflow at the end, and a transient outage never
  makes a dead letter.
- Forged and replayed partner events (`forge_events`): a wrong signature and a genuine event replayed outside the
  tolerance are refused (401) and never reach the shipment; a replay inside the tolerance is acknowledged as a
  duplicate and counted once.
- Poisoned input: control characters in a request are refused with a 422 naming each field and nothing is created;
  a notification poisoned behind the API's back (a subject with a line break) ends as exactly one dead letter instead
  of retrying forever and keeping its shipment open.

The last line adds `dead_letters=X reconciled=Y`: every dead letter and reconciliation item at the end, each tied to
the planned fault that calls for it in the report's table; one that no fault explains (or one a fault requires that
is missing) fails the run.
"""
