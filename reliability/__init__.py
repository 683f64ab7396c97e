"""The fault matrix (`make reliability`): hundreds of shipments through real processes with injected partner faults,
crashes and restarts, audited against the sandbox's records and the read model.

- `config`: the run's timings (retry budget, compressed clock), shared by the plan and the processes.
- `catalogue`: the scenarios (example request, faults, ops actions), the batch-wide disruptions, and the facts about
  each example the expectations rely on.
- `plan`: `build_plan(n, seed)`, the deterministic batch, with each shipment's expected terminal statuses.
- `processes`: the dev server, sandbox and mail server in-process; worker and API as child processes.
- `disruptions`: worker SIGKILLs, dev-server and API restarts and partner outages at shares of the batch.
- `driver`: the closed loop that submits, acts as ops, waits, and collects the evidence.
- `audit`: pure checks over the evidence: terminal, duplicates, orphans, lost.
- `report`: the tables; `__main__` prints them and the last line.
"""
