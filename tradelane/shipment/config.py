"""Configuration a shipment runs under: its timings and approval thresholds (from the settings).
"""

from datetime import timedelta
from decimal import Decimal

from pydantic import BaseModel, Field

from tradelane.enums import Stage


class ShipmentTimings(BaseModel):
    """Every wait of a shipment, so tests and the demo can run in seconds and production in days."""

    stage_timeout: dict[Stage, timedelta] = Field(
        default_factory=lambda: {Stage.TRANSIT: timedelta(days=60), Stage.LAST_MILE: timedelta(days=10)}
    )
    """How long the stages that wait for partner events (transit, last mile) may take before ops must decide."""
    gate_escalate_after: timedelta = timedelta(hours=4)
    """An approval still undecided after this is escalated (status, search attribute and an error log)."""
    activity_timeout: timedelta = timedelta(seconds=30)
    """Start-to-close limit of one partner call (the HTTP client's own timeout is shorter)."""
    retry_initial_interval: timedelta = timedelta(seconds=1)
    retry_maximum_interval: timedelta = timedelta(minutes=1)
    retry_maximum_attempts: int = 20
    """Attempts for a transient partner failure before the step counts as failed (0 = forever)."""
    stall_after: timedelta = timedelta(hours=48)
    """A moving shipment with no tracking event for this long raises a `stalled` exception."""
    customs_hold_alert_after: timedelta = timedelta(hours=24)
    """A customs hold (filing or tracking event) lasting longer raises a `customs_hold` exception."""
    poll_interval: timedelta = timedelta(minutes=15)
    """How often partners without webhooks are polled for tracking events."""
    history_limit: int | None = None
    """Continue as new past this many history events (besides the server's own suggestion); tests set it low."""


class ApprovalPolicy(BaseModel):
    """Thresholds above which a person must approve a shipment before it is booked."""

    value_thresholds: dict[str, Decimal] = Field(default_factory=dict)
    """Declared-value threshold per currency; a currency not listed always needs approval."""
