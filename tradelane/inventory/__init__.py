"""Inventory: the stock ledger, demand forecasts, reorder policy and replenishment suggestions.

Pure modules (no I/O, no clocks): `ledger` (movement kinds and the position they add up to), `forecast`,
`policy`, `lanes` (lead time, cost and CO2e per mode from the transport planner), `replenish` (suggestions as
shipment requests), `sales` (import validation), `chart`. The tables and transactions live in
`infra/persistence/inventory.py`; the activities in `activities/inventory.py`; the daily workflow in
`workflows/replenishment.py`.
"""
