"""Rows of `documents`: which document a shipment needs, when, and the fields a commercial invoice must show."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tradelane.enums import Mode
from tradelane.rules.base import Rule


class DocCondition(StrEnum):
    """What brings a document row into a shipment."""

    ALWAYS = "always"
    CLAIM_PREFERENCE = "claim_preference"
    """The request claims a preferential duty rate (`claim_preference`)."""
    MODE = "mode"
    """The plan has a leg of one of the row's modes."""
    DG_FULLY_REGULATED = "dg_fully_regulated"
    """Fully regulated dangerous goods (beyond the small-battery limits) on a leg of one of the row's modes."""
    DG_SHIPPER_DECLARATION = "dg_shipper_declaration"
    """Dangerous goods whose IATA section asks for a Shipper's Declaration (IA, IB, I) on a leg of one of the row's
    modes."""


class InvoiceField(BaseModel):
    """One field a commercial invoice must show: a path into `CommercialInvoice` and what the regulation asks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    """E.g. `port_of_entry`, `lines.country_of_origin`."""
    requirement: str


class DocumentRule(Rule):
    """One row of `documents.yaml`."""

    table_name = "documents"

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    when: DocCondition
    modes: tuple[Mode, ...] = ()
    reason: str
    generated: bool = False
    fields: tuple[InvoiceField, ...] = ()

    @model_validator(mode="after")
    def _modes_match_condition(self) -> DocumentRule:
        needs_modes = self.when in (DocCondition.MODE, DocCondition.DG_FULLY_REGULATED,
                                   DocCondition.DG_SHIPPER_DECLARATION)
        if needs_modes != bool(self.modes):
            raise ValueError(f"when={self.when}: modes must be {'given' if needs_modes else 'empty'}")
        return self

    def key(self) -> tuple[object, ...]:
        return (self.code, self.when, self.modes)
