"""Platform: what every Tradelane process stands on. Settings, logging, payload encryption (codec), telemetry, the
Temporal connection, HTTP serving, process signals, redaction, webhook signatures and readiness checks.

Imports only the domain (`tradelane`) and libraries; persistence, activities and everything above build on it.
"""
