"""Rows of `restricted_goods`: goods a country prohibits or allows only with a permit or licence."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from tradelane.rules.base import Rule

ALL_COUNTRIES = "*"


class RestrictedGoods(Rule):
    """Goods a country prohibits or allows only with a permit or licence."""

    table_name = "restricted_goods"

    rule_id: str
    countries: list[str] = Field(min_length=1)
    """ISO alpha-2 codes, or `*` for every country."""
    except_countries: list[str] = Field(default_factory=list)
    direction: Literal["import", "export"] = "import"
    """`import` matches `countries` against the destination, `export` against the origin."""
    hs_prefixes: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    severity: Literal["prohibited", "restricted", "licence"]
    goods: str
    """What the row covers, e.g. `Arms and ammunition (HS chapter 93)`."""
    requirement: str
    """What it takes to ship them, e.g. `import licence from the national arms authority`."""

    def key(self) -> tuple[str]:
        return (self.rule_id,)

    @model_validator(mode="after")
    def _matches_something(self) -> Self:
        if not self.hs_prefixes and not self.keywords:
            raise ValueError(f"{self.rule_id}: give hs_prefixes, keywords or both")
        bad = [p for p in self.hs_prefixes if not (p.isdigit() and 2 <= len(p) <= 10)]
        if bad:
            raise ValueError(f"{self.rule_id}: hs_prefixes {bad} are not 2-10 digits")
        return self

    def applies_to(self, country: str) -> bool:
        return (ALL_COUNTRIES in self.countries or country in self.countries) and country not in self.except_countries
