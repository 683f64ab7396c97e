"""Temporal workflows: the shipment (`shipment/`) and the daily replenishment run, their search attributes
(`visibility.py`), and the client side of starting them that the worker and the API share (start attributes, the
replenishment schedule). Workflow code is deterministic: no I/O, no clocks but `workflow.now()`, no randomness."""
