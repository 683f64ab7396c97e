"""Karrio's normalised tracking statuses mapped to Tradelane's vocabulary, through a data table.

The table is `tradelane/data/karrio_tracking.yaml` (its `source` names where each column comes from): Karrio's
event status, refined by its incident reason for problem events, overridden by a carrier's raw event code where
Karrio is too coarse. It is loaded and validated once, at import.
"""

from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, Field

from tradelane.enums import TrackingStatus

TABLE = Path(__file__).parent / "data" / "karrio_tracking.yaml"


class KarrioTrackingTable(BaseModel):
    source: str
    statuses: dict[str, TrackingStatus]
    """Karrio `TrackingStatus` name -> Tradelane status."""
    refined_by_reason: frozenset[str] = Field(default_factory=frozenset)
    """Karrio statuses (problem events) whose incident reason, when it has a row, decides instead."""
    reasons: dict[str, TrackingStatus] = Field(default_factory=dict)
    """Karrio `TrackingIncidentReason` name -> Tradelane status."""
    codes: dict[str, dict[str, TrackingStatus]] = Field(default_factory=dict)
    """Per Karrio carrier name, raw event code -> Tradelane status (wins over the rest)."""


@cache
def karrio_tracking(path: Path = TABLE) -> KarrioTrackingTable:
    """The validated table; a wrong status name fails here, naming the row."""
    return KarrioTrackingTable.model_validate(yaml.safe_load(path.read_text()))


karrio_tracking()  # read at import, not on first use: workflow code may map statuses and may not open files


def karrio_status(carrier: str, status: str | None, reason: str | None = None,
                  code: str | None = None) -> TrackingStatus:
    """Tradelane's status for one Karrio tracking event; UNKNOWN (kept, never dropped) when no row matches.

    Args:
        carrier: Karrio's carrier name (`ups`, `dhl_express`, `fedex`, `roadie`).
        status: The event's Karrio status name (`in_transit`, `on_hold`, ...), None when Karrio knew none.
        reason: The event's Karrio incident reason name (`customs_inspection`, ...), if any.
        code: The carrier's raw event code.
    """
    table = karrio_tracking()
    by_code = table.codes.get(carrier, {})
    if code is not None and code in by_code:
        return by_code[code]
    key = status or "unknown"
    if reason is not None and key in table.refined_by_reason and reason in table.reasons:
        return table.reasons[reason]
    return table.statuses.get(key, TrackingStatus.UNKNOWN)
