"""Carrier sandbox: a local HTTP service that behaves like Tradelane's logistics partners.

Run it with ``python -m sandbox``; build it in tests with `create_app`.
"""

from sandbox.app import create_app
from sandbox.config import SandboxConfig, load_config
from sandbox.faults import FaultKind, FaultRule
from sandbox.partners import EU_COUNTRIES, PARTNERS, Operation, Partner, PartnerKind, TransportMode
from sandbox.scenarios import LAST_MILE_SCENARIOS, TRACKING_CODES, TRANSIT_SCENARIOS, TrackingStep

__all__ = [
    "EU_COUNTRIES",
    "LAST_MILE_SCENARIOS",
    "PARTNERS",
    "TRACKING_CODES",
    "TRANSIT_SCENARIOS",
    "FaultKind",
    "FaultRule",
    "Operation",
    "Partner",
    "PartnerKind",
    "SandboxConfig",
    "TrackingStep",
    "TransportMode",
    "create_app",
    "load_config",
]
