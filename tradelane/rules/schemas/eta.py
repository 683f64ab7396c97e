"""Rows of `eta_allowances`: business days the steps around the legs take (pick-up, customs, holds, last mile)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, model_validator

from tradelane.enums import Mode
from tradelane.rules.base import Rule


class EtaStep(StrEnum):
    """The parts of a shipment that take business days rather than transit days."""

    PICKUP = "pickup"
    """Origin business days from the start to the first carrier's pick-up."""
    CUSTOMS = "customs"
    """Destination business days for import clearance after the last leg arrives."""
    CUSTOMS_HOLD = "customs_hold"
    """Extra destination business days when customs holds the goods."""
    LAST_MILE = "last_mile"
    """Destination business days from clearance to delivery, when no last-mile option gives its SLA."""


def check_order(low: int, mid: int, high: int, what: str) -> None:
    """Refuse a min/expected/max triple that is not 0 <= min <= expected <= max; `what` names it."""
    if not 0 <= low <= mid <= high:
        raise ValueError(f"{what}: expected 0 <= min <= expected <= max, got {low}/{mid}/{high}")


class EtaAllowanceRow(Rule):
    """Business days one step takes for one mode (`*`: any mode without its own row)."""

    table_name = "eta_allowances"

    step: EtaStep
    mode: Mode | Literal["*"]
    min: int = Field(ge=0, le=60)
    expected: int = Field(ge=0, le=60)
    max: int = Field(ge=0, le=60)

    @model_validator(mode="after")
    def _order(self) -> EtaAllowanceRow:
        check_order(self.min, self.expected, self.max, f"{self.step} {self.mode}")
        return self

    def key(self) -> tuple[Any, ...]:
        return (self.step, self.mode)
