"""Rows of `last_mile_options`: one partner's price and SLA for one delivery method in a group of countries."""

from __future__ import annotations

from pydantic import Field, field_validator

from tradelane.decisions.models import Money
from tradelane.enums import DeliveryMethod
from tradelane.models import CountryCode
from tradelane.rules.base import Rule


class LastMileRow(Rule):
    """One partner's offer of one delivery method in a group of destination countries."""

    table_name = "last_mile_options"

    partner: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    method: DeliveryMethod
    countries: list[CountryCode] = Field(min_length=1)
    """Destination countries (ISO alpha-2) where the partner offers this method at this price."""
    cost: Money
    """Price per parcel; every row of the table in the same currency."""
    sla_days: int = Field(ge=0, le=60)

    @field_validator("cost")
    @classmethod
    def _not_negative(cls, cost: Money) -> Money:
        if cost.amount < 0:
            raise ValueError(f"cost.amount {cost.amount} is negative")
        return cost
