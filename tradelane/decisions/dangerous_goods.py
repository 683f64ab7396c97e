"""Dangerous goods: lithium batteries (UN3480, UN3481, UN3090, UN3091) as IATA's packing instructions 965-970 write
them, and IMDG by sea.

`assess_dangerous_goods` reads each item's UN number, packing configuration, watt-hours or lithium grams per cell
and battery, count per package and state of charge against the `dangerous_goods` table: the item's packing
instruction and section (IA, IB, I or II), how the goods may travel (passenger aircraft, cargo aircraft only, not by
air), which labels, marks and documents they need, and what a person must check. `leg_allowed` is the planner's
per-leg question. Both are pure: the ship date picks the rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from pydantic import BaseModel, Field

from tradelane.decisions.models import Finding, RequiredDocument, Severity
from tradelane.enums import Aircraft, Mode, PackingConfiguration
from tradelane.models import DangerousGoods, ShipmentRequest
from tradelane.rules import RuleBook
from tradelane.rules.schemas.dangerous_goods import Chemistry, DgRule, DgTopic, PiSection

CHECK = "dangerous_goods"


class DgItem(BaseModel):
    """How one item's lithium batteries are classified."""

    index: int
    sku: str
    un_number: str
    proper_shipping_name: str
    packing_instruction: str | None = None
    """Digits only (`965`); None when the table has no section rows for the item on the ship date."""
    section: PiSection | None = None
    configuration: PackingConfiguration | None = None
    cargo_aircraft_only: bool = False
    shipper_declaration: bool = False
    fully_regulated: bool = False
    marks: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    package_limits: str = ""
    """The per-package quantity limits the section sets, for the person packing (not checked)."""


class DgAssessment(BaseModel):
    """How a shipment's dangerous goods may travel, and what they need. All False and empty without DG items."""

    passenger_aircraft_forbidden: bool
    air_forbidden: bool
    """No air leg at all, e.g. UN3480 above the 30% state-of-charge limit (which needs states' approval)."""
    cargo_aircraft_only: bool
    fully_regulated: bool
    findings: list[Finding]
    marks: list[str]
    labels: list[str]
    documents: list[RequiredDocument]
    reasons: list[str]
    passenger_aircraft_reason: str | None = None
    """Why passenger aircraft are out, naming the UN number, the date and the rule; `leg_allowed` returns it."""
    air_forbidden_reason: str | None = None
    """Why no aircraft may carry the goods; `leg_allowed` returns it for every air leg."""
    shipper_declaration: bool = False
    """Whether a section of an item asks for the Shipper's Declaration for Dangerous Goods by air (IA, IB, I)."""
    items: list[DgItem] = Field(default_factory=list)
    """Per dangerous-goods item: its packing instruction, section, labels and marks."""


def leg_allowed(dg: DgAssessment, mode: Mode, aircraft: Aircraft | None) -> str | None:
    """Whether the goods may travel on one leg.

    Args:
        dg: The shipment's assessment.
        mode: The leg's mode. Sea, road and rail carry lithium batteries as Class 9 (IMDG, ADR, RID).
        aircraft: For air legs, the aircraft the carrier's network flies; None when unknown, which counts as
            possibly passenger for cargo-aircraft-only goods.

    Returns:
        None when the goods may travel on this leg, else the reason.
    """
    if not mode.is_air:
        return None
    if dg.air_forbidden:
        return dg.air_forbidden_reason or "the goods may not travel by air"
    if dg.passenger_aircraft_forbidden and aircraft is not Aircraft.CARGO:
        reason = dg.passenger_aircraft_reason or "the goods are forbidden on passenger aircraft"
        if aircraft is None:
            return f"aircraft type unknown and the goods are cargo aircraft only: {reason}"
        return reason
    return None


# ---- the index, built once per book ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Index:
    by_un: dict[str, tuple[DgRule, ...]]
    sections: dict[str, tuple[DgRule, ...]]
    """Per packing instruction, its section rows in table order (the order they are tried)."""
    state_of_charge: dict[str, tuple[DgRule, ...]]
    cargo_aircraft_only: tuple[DgRule, ...]
    ocean: tuple[DgRule, ...]


def _build_index(book: RuleBook) -> _Index:
    rows = book.table(DgRule).rows
    by_un: dict[str, list[DgRule]] = {}
    sections: dict[str, list[DgRule]] = {}
    soc: dict[str, list[DgRule]] = {}
    for row in rows:
        if row.topic is DgTopic.UN_NUMBER:
            by_un.setdefault(row.un_number or "", []).append(row)
        elif row.topic is DgTopic.SECTION:
            sections.setdefault(row.packing_instruction or "", []).append(row)
        elif row.topic is DgTopic.STATE_OF_CHARGE:
            soc.setdefault(row.packing_instruction or "", []).append(row)
    return _Index(
        by_un={k: tuple(v) for k, v in by_un.items()},
        sections={k: tuple(v) for k, v in sections.items()},
        state_of_charge={k: tuple(v) for k, v in soc.items()},
        cargo_aircraft_only=tuple(row for row in rows if row.topic is DgTopic.CARGO_AIRCRAFT_ONLY),
        ocean=tuple(row for row in rows if row.topic is DgTopic.OCEAN),
    )


def _index(book: RuleBook) -> _Index:
    return book.cached("dangerous_goods.index", lambda: _build_index(book))


def _in_force(rows: tuple[DgRule, ...], on: date) -> DgRule | None:
    for row in rows:
        if row.in_force(on):
            return row
    return None


# ---- the assessment --------------------------------------------------------------------------------------------


@dataclass
class _Tally:
    """What the items add up to, filled item by item."""

    findings: list[Finding] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    passenger_reasons: list[str] = field(default_factory=list)
    air_reasons: list[str] = field(default_factory=list)
    items: list[DgItem] = field(default_factory=list)
    documents: list[RequiredDocument] = field(default_factory=list)

    def finding(self, code: str, severity: Severity, where: str, message: str, source: str | None = None,
                **details: str) -> None:
        self.findings.append(Finding(check=CHECK, code=code, severity=severity, message=f"{where}: {message}",
                                     field=where, source=source, details=details))


_PI_DIGITS = re.compile(r"\d{3}")


def _packing_instruction(declared: str) -> str | None:
    """`965`, `PI965`, `PI 965 Section II` -> `965`."""
    found = _PI_DIGITS.search(declared)
    return found.group(0) if found else None


_CONFIG_WORDS = {
    PackingConfiguration.STANDALONE: "alone",
    PackingConfiguration.PACKED_WITH_EQUIPMENT: "packed with equipment",
    PackingConfiguration.CONTAINED_IN_EQUIPMENT: "contained in equipment",
}


@dataclass(frozen=True)
class _Unit:
    """What one item declares, in the terms of the section rows: the unit's rating (Wh or lithium grams), the rating
    of a battery's largest cell, and the count per package, each with the field it came from."""

    where: str
    chemistry: Chemistry
    loose_cells: bool
    rating: float | None
    rating_field: str
    cell_rating: float | None
    cell_field: str
    count: int | None
    count_field: str

    def misses(self, row: DgRule) -> tuple[list[str], list[str]]:
        """The limits of `row` the unit breaks, and the fields it leaves unknown that a limit needs."""
        ion = self.chemistry is Chemistry.LITHIUM_ION
        cell_limit = row.max_cell_wh if ion else row.max_cell_lithium_g
        battery_limit = row.max_battery_wh if ion else row.max_battery_lithium_g
        unit = "Wh" if ion else "g of lithium"
        broken: list[str] = []
        unknown: list[str] = []
        if self.loose_cells:
            limits = [(cell_limit, self.rating, self.rating_field, "cell")]
            count_limit, counted = row.max_cells_per_package, "cells"
        else:
            limits = [(battery_limit, self.rating, self.rating_field, "battery")]
            if self.cell_rating is not None:  # unknown: said to be unchecked, not held against the item
                limits.append((cell_limit, self.cell_rating, self.cell_field, "cell"))
            count_limit, counted = row.max_batteries_per_package, "batteries"
        for limit, value, name, per in limits:
            if limit is None:
                continue
            if value is None:
                unknown.append(name)
            elif value > limit:
                broken.append(f"{value:g} {unit} is over {limit:g} {unit} per {per}")
        if count_limit is not None:
            if self.count is None:
                unknown.append(self.count_field)
            elif self.count > count_limit:
                broken.append(f"{self.count} {counted} per package is over {count_limit}")
        return broken, unknown


def _unit(where: str, dg: DangerousGoods, chemistry: Chemistry) -> _Unit:
    loose = dg.loose_cells
    count, count_field = ((dg.cells_per_package, "cells_per_package") if loose
                          else (dg.batteries_per_package, "batteries_per_package"))
    if chemistry is Chemistry.LITHIUM_ION:
        return _Unit(where, chemistry, loose, dg.watt_hours, "watt_hours", dg.cell_watt_hours, "cell_watt_hours",
                     count, count_field)
    return _Unit(where, chemistry, loose, dg.lithium_content_g, "lithium_content_g", dg.cell_lithium_content_g,
                 "cell_lithium_content_g", count, count_field)


def _configuration(i: int, dg: DangerousGoods, row: DgRule, index: _Index, on: date,
                   tally: _Tally) -> tuple[PackingConfiguration | None, str | None, bool]:
    """The item's packing configuration and instruction, and whether both were stated or read from the request
    (False: assumed, the stricter of the UN number's instructions)."""
    where = f"items[{i}].dangerous_goods"
    un, cite = row.un_number, row.cite()
    by_config: dict[PackingConfiguration, str] = {}
    for number in row.packing_instructions:
        section = _in_force(index.sections.get(number, ()), on)
        if section is not None and section.configuration is not None:
            by_config[section.configuration] = number
    declared_pi = _packing_instruction(dg.packing_instruction) if dg.packing_instruction is not None else None
    config = dg.packing_configuration
    if config is not None and config not in by_config and by_config:
        allowed = ", ".join(by_config)
        tally.finding("DG_PACKING_CONFIGURATION_MISMATCH", Severity.HOLD, f"{where}.packing_configuration",
                      f"'{config}' is not a packing configuration of {un} ({allowed}); a DG specialist must confirm "
                      f"the classification", cite)
        config = None
    if config is None and len(by_config) == 1:
        config = next(iter(by_config))
    if config is None and declared_pi is not None:
        config = next((c for c, number in by_config.items() if number == declared_pi), None)
    if config is not None:
        pi = by_config.get(config)
        if pi is not None and declared_pi is not None and declared_pi in row.packing_instructions \
                and declared_pi != pi:
            tally.finding("DG_PACKING_INSTRUCTION_MISMATCH", Severity.HOLD, f"{where}.packing_instruction",
                          f"'{dg.packing_instruction}' is PI {declared_pi}, but {un} {_CONFIG_WORDS[config]} ships "
                          f"under PI {pi}; a DG specialist must confirm the classification", cite)
        return config, pi, True
    if not by_config:
        return None, None, True
    # UN3481 / UN3091 with neither configuration nor instruction: packed with equipment asks the most of the two.
    config = PackingConfiguration.PACKED_WITH_EQUIPMENT if PackingConfiguration.PACKED_WITH_EQUIPMENT in by_config \
        else next(iter(by_config))
    tally.finding("DG_PACKING_CONFIGURATION_UNDECLARED", Severity.INFO, f"{where}.packing_configuration",
                  f"not declared for {un}: classified as {_CONFIG_WORDS[config]} (PI {by_config[config]}), the "
                  f"stricter case; declare packed_with_equipment or contained_in_equipment", cite)
    return config, by_config[config], False


def _assess_item(i: int, sku: str, dg: DangerousGoods, parcels: int, index: _Index, on: date,
                 tally: _Tally) -> None:
    where = f"items[{i}].dangerous_goods"
    row = _in_force(index.by_un.get(dg.un_number, ()), on)
    if row is None:
        tally.finding("DG_UN_NUMBER_UNKNOWN", Severity.HOLD, f"{where}.un_number",
                      f"{dg.un_number} is not in Tradelane's dangerous-goods table (lithium batteries UN3480, UN3481, "
                      f"UN3090, UN3091) on {on}; needs a DG specialist")
        return
    un, cite = row.un_number or dg.un_number, row.cite()
    pis = " / ".join(f"PI {pi}" for pi in row.packing_instructions)
    if dg.packing_instruction is not None and _packing_instruction(dg.packing_instruction) not in \
            row.packing_instructions:
        tally.finding("DG_PACKING_INSTRUCTION_MISMATCH", Severity.HOLD, f"{where}.packing_instruction",
                      f"'{dg.packing_instruction}' is not a packing instruction of {un} ({pis}); a DG specialist "
                      f"must confirm the classification", cite)
    config, pi, stated = _configuration(i, dg, row, index, on, tally)
    item = DgItem(index=i, sku=sku, un_number=un, proper_shipping_name=row.proper_shipping_name,
                  packing_instruction=pi, configuration=config, cargo_aircraft_only=not row.passenger_aircraft)
    tally.reasons.append(f"items[{i}] {sku}: {un} {row.proper_shipping_name}, Class {row.hazard_class}, "
                         f"{f'PI {pi}' if pi else pis} ({cite})")
    if not row.passenger_aircraft:
        tally.passenger_reasons.append(
            f"{un} ({row.description}) is forbidden on passenger aircraft since {row.valid_from} ({cite})")
    assert row.chemistry is not None  # a un_number row always has one (schema)
    unit = _unit(where, dg, row.chemistry)
    _classify(item, unit, pi, parcels, index, on, tally)
    if pi is not None:
        _state_of_charge(item, dg, unit, pi, stated, index, on, tally)
    tally.items.append(item)


def _classify(item: DgItem, unit: _Unit, pi: str | None, parcels: int, index: _Index, on: date,
              tally: _Tally) -> None:
    """The item's section: the first row of its packing instruction whose limits it keeps."""
    i, where = item.index, unit.where
    rows = [row for row in index.sections.get(pi or "", ()) if row.in_force(on)]
    if not rows:
        item.fully_regulated = True
        tally.finding("DG_SECTION_RULE_MISSING", Severity.HOLD, where,
                      f"no section of {f'PI {pi}' if pi else item.un_number} is in force on {on}; treated as fully "
                      f"regulated until a DG specialist classifies it")
        return
    held_back: list[str] = []  # fields whose absence kept the item out of a less regulated section
    held_by: DgRule | None = None  # the first such section
    why = "the smaller sections' limits are not shown to be kept"
    chosen = rows[-1]
    for row in rows:
        broken, unknown = unit.misses(row)
        if not broken and not unknown:
            chosen = row
            if row.max_battery_wh is not None or row.max_battery_lithium_g is not None:
                why = "within its limits"
            break
        if broken:
            why = "; ".join(broken)
        else:
            held_by = held_by or row
            held_back.extend(name for name in unknown if name not in held_back)
    section_name = f"PI {pi} Section {chosen.section}"
    tally.reasons.append(f"items[{i}] {item.sku}: {section_name} ({why}) ({chosen.cite()})")
    if chosen.package_limits:
        tally.reasons.append(f"items[{i}] {item.sku}: {section_name} package limits, not checked: "
                             f"{chosen.package_limits}")
    if unit.cell_rating is None and not unit.loose_cells and any(
            (r.max_cell_wh if unit.chemistry is Chemistry.LITHIUM_ION else r.max_cell_lithium_g) is not None
            for r in rows):
        tally.reasons.append(f"items[{i}] {item.sku}: the per-cell limit was not checked: "
                             f"{where}.{unit.cell_field} is not declared")
    rating_missing = unit.rating_field in held_back
    if rating_missing:
        code, what = (("DG_WATT_HOURS_MISSING", "watt-hours") if unit.chemistry is Chemistry.LITHIUM_ION
                      else ("DG_LITHIUM_CONTENT_MISSING", "lithium content in grams"))
        tally.finding(code, Severity.HOLD, f"{where}.{unit.rating_field}",
                      f"the {what} must be declared for {item.un_number} to tell its section of PI {pi}; treated as "
                      f"Section {chosen.section} until declared", chosen.cite())
    other = [name for name in held_back if name != unit.rating_field]
    if other and held_by is not None and not rating_missing:
        tally.finding("DG_PACKAGE_COUNT_UNDECLARED", Severity.INFO, f"{where}.{other[0]}",
                      f"not declared: {item.un_number} is classified {section_name}; with "
                      f"{held_by.package_limits or 'the smaller section limits'} it would be Section "
                      f"{held_by.section}", held_by.cite())
    item.section = chosen.section
    item.fully_regulated = chosen.fully_regulated
    item.shipper_declaration = bool(chosen.documents)
    item.package_limits = chosen.package_limits
    item.labels = list(chosen.labels)
    item.marks = [] if _mark_exempt(chosen, unit, parcels) else list(chosen.marks)
    if chosen.marks and not item.marks:
        tally.reasons.append(f"items[{i}] {item.sku}: no lithium battery mark: at most "
                             f"{chosen.mark_exempt_max_cells} cells or {chosen.mark_exempt_max_batteries} batteries "
                             f"per package in {parcels} package(s) ({chosen.cite()})")
    for doc in chosen.documents:
        tally.documents.append(RequiredDocument(code=doc.code, name=doc.name, source=chosen.cite(),
                                                reason=f"lithium batteries under {section_name} (dangerous goods)"))


def _mark_exempt(row: DgRule, unit: _Unit, parcels: int) -> bool:
    """Section II contained in equipment: few cells or batteries per package, in few packages."""
    limit = row.mark_exempt_max_cells if unit.loose_cells else row.mark_exempt_max_batteries
    if limit is None or row.mark_exempt_max_packages is None or unit.count is None:
        return False
    return unit.count <= limit and parcels <= row.mark_exempt_max_packages


def _state_of_charge(item: DgItem, dg: DangerousGoods, unit: _Unit, pi: str, stated: bool, index: _Index,
                     on: date, tally: _Tally) -> None:
    row = _in_force(index.state_of_charge.get(pi, ()), on)
    if row is None or row.max_state_of_charge_pct is None:
        return
    if row.above_wh is not None and unit.rating is not None and unit.rating <= row.above_wh:
        return
    i, un, limit, cite = item.index, item.un_number, row.max_state_of_charge_pct, row.cite()
    where = f"items[{i}].dangerous_goods.state_of_charge_pct"
    what = un if item.configuration in (None, PackingConfiguration.STANDALONE) else \
        f"{un} {_CONFIG_WORDS[item.configuration]} (PI {pi})"
    soc = dg.state_of_charge_pct
    if not row.mandatory:
        if soc is not None and soc > limit:
            tally.finding("DG_STATE_OF_CHARGE_ABOVE_RECOMMENDED", Severity.INFO, where,
                          f"{soc:g}% is above the {limit:g}% IATA recommends for {what} by air", cite)
        return
    if soc is None:
        tally.finding("DG_STATE_OF_CHARGE_MISSING", Severity.HOLD if stated else Severity.INFO, where,
                      f"must be declared for {what}: by air it may be at most {limit:g}%", cite)
    elif soc > limit:
        tally.air_reasons.append(f"{where}: {soc:g}% is over the {limit:g}% limit for {what} by air ({cite})")
        tally.finding("DG_STATE_OF_CHARGE_OVER_LIMIT", Severity.BLOCK, where,
                      f"{soc:g}% is over the {limit:g}% state-of-charge limit for {what} by air; it may not fly "
                      f"without the approval of the states concerned. Discharge to {limit:g}% or less, or ship "
                      f"by sea, road or rail", cite, applies_to="air")


def _no_dangerous_goods() -> DgAssessment:
    return DgAssessment(passenger_aircraft_forbidden=False, air_forbidden=False, cargo_aircraft_only=False,
                        fully_regulated=False, findings=[], marks=[], labels=[], documents=[], reasons=[])


def assess_dangerous_goods(request: ShipmentRequest, book: RuleBook) -> DgAssessment:
    """How the shipment's dangerous goods may travel and what they need.

    Args:
        request: The shipment; items with `dangerous_goods` are assessed.
        book: The rule book holding the `dangerous_goods` table.

    Returns:
        The assessment. Findings (check `dangerous_goods`) name the field, e.g.
        `items[0].dangerous_goods.state_of_charge_pct`; a BLOCK finding with `details.applies_to == "air"` rules
        out air legs only.
    """
    if all(item.dangerous_goods is None for item in request.items):
        return _no_dangerous_goods()
    index = _index(book)
    on = request.ship_date
    tally = _Tally()
    for i, item in enumerate(request.items):
        if item.dangerous_goods is not None:
            _assess_item(i, item.sku, item.dangerous_goods, len(request.parcels), index, on, tally)
    passenger_forbidden = bool(tally.passenger_reasons)
    marks = _marks(tally.items)
    labels = [label for item in tally.items for label in item.labels]
    if passenger_forbidden:
        cao = _in_force(index.cargo_aircraft_only, on)
        if cao is None:
            tally.reasons.append(f"no Cargo Aircraft Only label rule in force on {on}")
        else:
            labels.extend(cao.labels)
            tally.reasons.append(f"cargo aircraft only on air legs: {', '.join(cao.labels)} ({cao.cite()})")
    ocean = _in_force(index.ocean, on)
    if ocean is not None:
        tally.reasons.append(f"by sea: IMDG Class {ocean.hazard_class}, same UN numbers ({ocean.cite()})")
    fully = any(item.fully_regulated for item in tally.items)
    documents = list({doc.code: doc for doc in tally.documents}.values())
    return DgAssessment(
        passenger_aircraft_forbidden=passenger_forbidden,
        air_forbidden=bool(tally.air_reasons),
        cargo_aircraft_only=passenger_forbidden,
        fully_regulated=fully,
        findings=tally.findings,
        marks=marks,
        labels=list(dict.fromkeys(labels)),
        documents=documents,
        reasons=tally.reasons,
        passenger_aircraft_reason="; ".join(dict.fromkeys(tally.passenger_reasons)) or None,
        air_forbidden_reason="; ".join(tally.air_reasons) or None,
        shipper_declaration=bool(documents),
        items=tally.items,
    )


def _marks(items: list[DgItem]) -> list[str]:
    """Each mark once, naming the UN numbers it stands for: `Lithium battery mark (UN3480, UN3481)`."""
    by_mark: dict[str, set[str]] = {}
    for item in items:
        for mark in item.marks:
            by_mark.setdefault(mark, set()).add(item.un_number)
    return [f"{mark} ({', '.join(sorted(uns))})" for mark, uns in by_mark.items()]
