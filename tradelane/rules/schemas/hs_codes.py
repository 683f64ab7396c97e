"""Rows of the HS tables: the edition in force and its chapters, national code lengths, and 6-digit subheadings."""

from __future__ import annotations

from pydantic import Field

from tradelane.rules.base import Rule


class HsEdition(Rule):
    """An HS edition and its chapter structure, in force from `valid_from`."""

    table_name = "hs_editions"

    edition: str
    """E.g. `HS 2022`; subheading rows name the edition they belong to."""
    first_chapter: int = Field(default=1, ge=1, le=99)
    last_chapter: int = Field(default=97, ge=1, le=99)
    reserved_chapters: list[int] = Field(default_factory=list)
    """Chapters kept free for future use (77): no goods are classified there."""
    national_chapters: list[int] = Field(default_factory=list)
    """Chapters left to national use (98, 99): valid only inside a national tariff."""

    def key(self) -> tuple[str]:
        return ("hs_edition",)  # one edition at a time


class HsLength(Rule):
    """The national code lengths a destination's tariff uses."""

    table_name = "hs_lengths"

    countries: list[str] = Field(min_length=1)
    system: str
    """E.g. `HTS`, `CN/TARIC`."""
    lengths: list[int] = Field(min_length=1)
    """Accepted full national lengths, e.g. [8, 10] for CN 8 and TARIC 10."""


class HsSubheading(Rule):
    """One 6-digit subheading of an HS edition."""

    table_name = "hs_subheadings"

    code: str = Field(pattern=r"^\d{6}$")
    description: str
    edition: str

    def key(self) -> tuple[str, str]:
        return (self.edition, self.code)
