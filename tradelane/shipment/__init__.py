"""The shipment workflow's contract, split by kind: `config` (timings and approval thresholds it runs under),
`run` (its input and what continue-as-new carries over), `state` (its state, records and handler messages),
`events` (tracking events), `calls` (activity inputs and outputs) and `projection` (read-model snapshots).

Pure pydantic models: no I/O, importable into workflow code.
"""
