"""Rows of `dangerous_goods`: lithium battery UN numbers, the watt-hour line, the sections' marks and documents,
and the IMDG class by sea."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tradelane.rules.base import Rule


class DgTopic(StrEnum):
    """What a row of the `dangerous_goods` table is about."""

    UN_NUMBER = "un_number"
    """What one UN number is, its packing instructions, passenger-aircraft rule and state-of-charge limit."""
    FULLY_REGULATED = "fully_regulated"
    """The watt-hour line above which a lithium-ion battery is fully regulated."""
    SECTION = "section"
    """Marks, labels and documents of one kind of shipment (small, fully regulated, cargo aircraft only)."""
    OCEAN = "ocean"
    """The IMDG class by sea."""


class Chemistry(StrEnum):
    LITHIUM_ION = "lithium_ion"
    LITHIUM_METAL = "lithium_metal"


class DgSection(StrEnum):
    SMALL = "small"
    """Section II (and, as the reference groups it, IB): the lithium battery mark."""
    FULLY_REGULATED = "fully_regulated"
    """Class 9 lithium battery hazard label and a shipper's declaration."""
    CARGO_AIRCRAFT_ONLY = "cargo_aircraft_only"
    """Goods forbidden on passenger aircraft: the Cargo Aircraft Only label on air legs."""


class DocumentRef(BaseModel):
    """A document a section needs, as the table names it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    name: str


# Fields each topic must fill, so a row with a missing figure fails at load time, not at decision time.
_REQUIRED: dict[DgTopic, tuple[str, ...]] = {
    DgTopic.UN_NUMBER: ("un_number", "proper_shipping_name", "description", "chemistry", "packing_instructions",
                        "passenger_aircraft", "hazard_class"),
    DgTopic.FULLY_REGULATED: ("chemistry", "above_wh"),
    DgTopic.SECTION: ("section",),
    DgTopic.OCEAN: ("hazard_class",),
}


class DgRule(Rule):
    """One row of `dangerous_goods.yaml`; which fields are filled depends on `topic`."""

    table_name = "dangerous_goods"

    topic: DgTopic
    un_number: str | None = Field(default=None, pattern=r"^UN\d{4}$")
    proper_shipping_name: str = ""
    description: str = ""
    """Short wording for messages, e.g. `Li-ion batteries alone`."""
    chemistry: Chemistry | None = None
    packing_instructions: tuple[str, ...] = ()
    """IATA packing instruction numbers, digits only (`965`)."""
    passenger_aircraft: bool | None = None
    """Whether the UN number may fly as cargo on passenger aircraft (within its packing instruction's limits)."""
    max_state_of_charge_pct: float | None = Field(default=None, ge=0, le=100)
    hazard_class: str | None = None
    above_wh: float | None = Field(default=None, gt=0)
    section: DgSection | None = None
    marks: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    documents: tuple[DocumentRef, ...] = ()

    @model_validator(mode="after")
    def _topic_fields_present(self) -> DgRule:
        missing = [name for name in _REQUIRED[self.topic] if getattr(self, name) in (None, "", ())]
        if missing:
            raise ValueError(f"topic {self.topic} needs {', '.join(missing)}")
        return self

    def key(self) -> tuple[object, ...]:
        return (self.topic, self.un_number, self.chemistry, self.section)
