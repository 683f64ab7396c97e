"""Persistence: Tradelane's own database. The read model (`db`), its Alembic migrations, the notification outbox
and what it renders from notices, webhook receipts, and the inventory ledger.

Imports the domain and the platform only; activities and the API use it.
"""
