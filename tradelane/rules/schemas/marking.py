"""Rows of `marking_rules`: ISPM 15 wood packaging, country-of-origin marking and label language, by destination."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from tradelane.enums import Packaging
from tradelane.models import CountryCode
from tradelane.rules.base import Rule

LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]
RegionCode = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,3}$")]


class MarkingKind(StrEnum):
    """What a `marking_rules` row governs."""

    ISPM15 = "ispm15"
    ORIGIN_MARKING = "origin_marking"
    LABEL_LANGUAGE = "label_language"


class MarkingRule(Rule):
    """One destination rule for packaging marks, origin marks or label language."""

    table_name = "marking_rules"

    kind: MarkingKind
    countries: list[CountryCode] = Field(min_length=1)
    """Destination countries (ISO alpha-2) the row covers."""
    region: RegionCode | None = None
    """ISO 3166-2 subdivision code without the country part (`QC`); the row then applies only there, on top of
    the country's own rows."""
    requirement: str = Field(min_length=3)
    """What must be done, as shown in marks, labels and messages."""
    applies_to: list[Packaging] = Field(default_factory=list)
    """ispm15: the packagings that count as solid wood."""
    min_thickness_mm: float | None = None
    """ispm15: wood at most this thick is exempt (informational: the request carries no thickness)."""
    exempt_origins: list[CountryCode] = Field(default_factory=list)
    """ispm15: origin countries whose wood packaging the destination does not check (e.g. within the EU)."""
    languages: list[LanguageCode] = Field(default_factory=list)
    """label_language: ISO 639-1 codes; the first is the one reported as the destination's label language."""
    require: Literal["all", "any"] = "any"
    """label_language: `all` listed languages (bilingual rules) or `any` one of them (multilingual countries)."""
    penalty: str = ""
    """origin_marking: what happens when the mark is missing."""

    @model_validator(mode="after")
    def _fields_for_kind(self) -> MarkingRule:
        if self.kind is MarkingKind.ISPM15 and not self.applies_to:
            raise ValueError("an ispm15 row needs applies_to (the solid wood packagings)")
        if self.kind is MarkingKind.LABEL_LANGUAGE and not self.languages:
            raise ValueError("a label_language row needs languages")
        return self
