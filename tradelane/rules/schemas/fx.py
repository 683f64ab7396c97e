"""Rows of `fx_rates`: each currency's reference rate against the euro, by period."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, StringConstraints

from tradelane.rules.base import Rule

CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class FxRate(Rule):
    """One currency's reference rate against the euro for the period the row is valid."""

    table_name = "fx_rates"

    currency: CurrencyCode
    per_eur: Annotated[Decimal, Field(gt=0)]
    """Units of `currency` per 1 EUR (EUR itself has 1)."""

    def key(self) -> tuple[str]:
        return (self.currency,)
