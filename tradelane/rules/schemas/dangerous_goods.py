"""Rows of `dangerous_goods`: lithium battery UN numbers, the sections of IATA's packing instructions 965-970 with
their limits and what each asks for, state-of-charge limits, the Cargo Aircraft Only label and the IMDG class by
sea."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tradelane.enums import PackingConfiguration
from tradelane.rules.base import Rule


class DgTopic(StrEnum):
    """What a row of the `dangerous_goods` table is about."""

    UN_NUMBER = "un_number"
    """What one UN number is, its packing instructions and whether it may fly on passenger aircraft."""
    SECTION = "section"
    """One section of one packing instruction (PI 965 Section IB, ...): the limits an item must keep to fall in it
    and the labels, marks and documents it asks for."""
    STATE_OF_CHARGE = "state_of_charge"
    """The state-of-charge limit of one packing instruction, mandatory or recommended."""
    CARGO_AIRCRAFT_ONLY = "cargo_aircraft_only"
    """The label of goods forbidden on passenger aircraft."""
    OCEAN = "ocean"
    """The IMDG class by sea."""


class Chemistry(StrEnum):
    LITHIUM_ION = "lithium_ion"
    LITHIUM_METAL = "lithium_metal"


class PiSection(StrEnum):
    """A section of an IATA lithium battery packing instruction."""

    IA = "IA"
    """PI 965 / 968: fully regulated Class 9 (cells or batteries above the small limits, or beyond Section IB's
    quantity)."""
    IB = "IB"
    """PI 965 / 968: small cells and batteries as Class 9 without UN specification packaging."""
    I = "I"  # noqa: E741 -- IATA's name for the section
    """PI 966 / 967 / 969 / 970: fully regulated Class 9."""
    II = "II"
    """Small cells and batteries under the packing instruction's Section II: the lithium battery mark, no
    declaration."""


class DocumentRef(BaseModel):
    """A document a section needs, as the table names it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    name: str


# Fields each topic must fill, so a row with a missing figure fails at load time, not at decision time.
_REQUIRED: dict[DgTopic, tuple[str, ...]] = {
    DgTopic.UN_NUMBER: ("un_number", "proper_shipping_name", "description", "chemistry", "packing_instructions",
                        "passenger_aircraft", "hazard_class"),
    DgTopic.SECTION: ("packing_instruction", "section", "configuration"),
    DgTopic.STATE_OF_CHARGE: ("packing_instruction", "max_state_of_charge_pct", "mandatory"),
    DgTopic.CARGO_AIRCRAFT_ONLY: ("labels",),
    DgTopic.OCEAN: ("hazard_class",),
}

Limit = Field(default=None, ge=0)


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
    hazard_class: str | None = None

    packing_instruction: str | None = Field(default=None, pattern=r"^\d{3}$")
    """Section and state-of-charge rows: the packing instruction they belong to."""
    section: PiSection | None = None
    configuration: PackingConfiguration | None = None
    max_cell_wh: float | None = Limit
    """A section row applies only when each stated limit holds; unstated limits do not restrict it."""
    max_battery_wh: float | None = Limit
    max_cell_lithium_g: float | None = Limit
    max_battery_lithium_g: float | None = Limit
    max_cells_per_package: int | None = Limit
    max_batteries_per_package: int | None = Limit
    mark_exempt_max_cells: int | None = Limit
    """Section II contained in equipment: no lithium battery mark on packages holding at most this many cells (or
    `mark_exempt_max_batteries` batteries), in a consignment of at most `mark_exempt_max_packages` packages."""
    mark_exempt_max_batteries: int | None = Limit
    mark_exempt_max_packages: int | None = Limit
    package_limits: str = ""
    """The per-package quantity limits the shipper must keep (net kg, number of spares), stated with the section;
    Tradelane does not know the net battery mass per package, so they are said, not checked."""
    fully_regulated: bool = False
    """Section IA / I: beyond the small-battery limits (UN specification packaging; also the line past which
    IMDG and ADR treat the batteries as Class 9 in full)."""
    marks: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    documents: tuple[DocumentRef, ...] = ()

    max_state_of_charge_pct: float | None = Field(default=None, ge=0, le=100)
    mandatory: bool | None = None
    """State-of-charge rows: True when the limit must be kept, False when IATA recommends it."""
    above_wh: float | None = Field(default=None, ge=0)
    """State-of-charge rows: the limit applies only to cells and batteries rated above this (None: to all)."""

    @model_validator(mode="after")
    def _topic_fields_present(self) -> DgRule:
        missing = [name for name in _REQUIRED[self.topic] if getattr(self, name) in (None, "", ())]
        if missing:
            raise ValueError(f"topic {self.topic} needs {', '.join(missing)}")
        return self

    def key(self) -> tuple[object, ...]:
        return (self.topic, self.un_number, self.packing_instruction, self.section, self.max_battery_wh,
                self.max_battery_lithium_g)
