"""Dangerous goods: lithium batteries (UN3480, UN3481, UN3090, UN3091) under the IATA rules, and IMDG by sea.

`assess_dangerous_goods` reads each item's declared UN number, watt-hours and state of charge against the
`dangerous_goods` table and says how the goods may travel (passenger aircraft, cargo aircraft only, not by air),
which marks, labels and documents they need, and what a person must check. `leg_allowed` is the planner's
per-leg question. Both are pure: the ship date picks the rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from pydantic import BaseModel

from tradelane.decisions.models import Finding, RequiredDocument, Severity
from tradelane.enums import Aircraft, Mode
from tradelane.models import Item, ShipmentRequest
from tradelane.rules import RuleBook
from tradelane.rules.schemas.dangerous_goods import Chemistry, DgRule, DgSection, DgTopic

CHECK = "dangerous_goods"


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
    threshold: dict[Chemistry, tuple[DgRule, ...]]
    sections: dict[DgSection, tuple[DgRule, ...]]
    ocean: tuple[DgRule, ...]


def _build_index(book: RuleBook) -> _Index:
    rows = book.table(DgRule).rows
    by_un: dict[str, list[DgRule]] = {}
    threshold: dict[Chemistry, list[DgRule]] = {}
    sections: dict[DgSection, list[DgRule]] = {}
    for row in rows:
        if row.topic is DgTopic.UN_NUMBER:
            by_un.setdefault(row.un_number or "", []).append(row)
        elif row.topic is DgTopic.FULLY_REGULATED and row.chemistry is not None:
            threshold.setdefault(row.chemistry, []).append(row)
        elif row.topic is DgTopic.SECTION and row.section is not None:
            sections.setdefault(row.section, []).append(row)
    return _Index(
        by_un={k: tuple(v) for k, v in by_un.items()},
        threshold={k: tuple(v) for k, v in threshold.items()},
        sections={k: tuple(v) for k, v in sections.items()},
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
    small_uns: list[str] = field(default_factory=list)
    fully_regulated: bool = False

    def finding(self, code: str, severity: Severity, where: str, message: str, source: str | None = None,
                **details: str) -> None:
        self.findings.append(Finding(check=CHECK, code=code, severity=severity, message=f"{where}: {message}",
                                     field=where, source=source, details=details))


_PI_DIGITS = re.compile(r"\d{3}")


def _packing_instruction(declared: str) -> str | None:
    """`965`, `PI965`, `PI 965 Section II` -> `965`."""
    found = _PI_DIGITS.search(declared)
    return found.group(0) if found else None


def _assess_item(i: int, item: Item, index: _Index, on: date, tally: _Tally) -> None:
    dg = item.dangerous_goods
    assert dg is not None
    where = f"items[{i}].dangerous_goods"
    row = _in_force(index.by_un.get(dg.un_number, ()), on)
    if row is None:
        tally.finding("DG_UN_NUMBER_UNKNOWN", Severity.HOLD, f"{where}.un_number",
                      f"{dg.un_number} is not in Tradelane's dangerous-goods table (lithium batteries UN3480, UN3481, "
                      f"UN3090, UN3091) on {on}; needs a DG specialist")
        return
    un, cite = row.un_number, row.cite()
    pis = " / ".join(f"PI {pi}" for pi in row.packing_instructions)
    tally.reasons.append(f"items[{i}] {item.sku}: {un} {row.proper_shipping_name}, Class {row.hazard_class}, {pis} "
                         f"({cite})")

    if dg.packing_instruction is not None and _packing_instruction(dg.packing_instruction) not in \
            row.packing_instructions:
        tally.finding("DG_PACKING_INSTRUCTION_MISMATCH", Severity.HOLD, f"{where}.packing_instruction",
                      f"'{dg.packing_instruction}' is not a packing instruction of {un} ({pis}); a DG specialist "
                      f"must confirm the classification", cite)

    if not row.passenger_aircraft:
        tally.passenger_reasons.append(
            f"{un} ({row.description}) is forbidden on passenger aircraft since {row.valid_from} ({cite})")

    limit = row.max_state_of_charge_pct
    if limit is not None:
        soc = dg.state_of_charge_pct
        if soc is None:
            tally.finding("DG_STATE_OF_CHARGE_MISSING", Severity.HOLD, f"{where}.state_of_charge_pct",
                          f"must be declared for {un}: by air it may be at most {limit:g}%", cite)
        elif soc > limit:
            tally.air_reasons.append(
                f"items[{i}].dangerous_goods.state_of_charge_pct: {soc:g}% is over the {limit:g}% limit for {un} "
                f"by air ({cite})")
            tally.finding("DG_STATE_OF_CHARGE_OVER_LIMIT", Severity.BLOCK, f"{where}.state_of_charge_pct",
                          f"{soc:g}% is over the {limit:g}% state-of-charge limit for {un} by air; it may not fly "
                          f"without the approval of the states concerned. Discharge to {limit:g}% or less, or ship "
                          f"by sea, road or rail", cite, applies_to="air")

    if row.chemistry is Chemistry.LITHIUM_ION:
        _classify_lithium_ion(i, item, un or "", index, on, tally)
    else:
        tally.small_uns.append(un or "")
        tally.finding("DG_LITHIUM_CONTENT_UNDECLARED", Severity.INFO, where,
                      f"{un} is lithium metal, limited by lithium content (grams), which the request does not "
                      f"carry; treated as small (Section II): check the battery's lithium content", cite)


def _classify_lithium_ion(i: int, item: Item, un: str, index: _Index, on: date, tally: _Tally) -> None:
    dg = item.dangerous_goods
    assert dg is not None
    where = f"items[{i}].dangerous_goods.watt_hours"
    threshold = _in_force(index.threshold.get(Chemistry.LITHIUM_ION, ()), on)
    if threshold is None or threshold.above_wh is None:
        tally.fully_regulated = True
        tally.finding("DG_WATT_HOUR_RULE_MISSING", Severity.HOLD, where,
                      f"no watt-hour rule for lithium-ion batteries is in force on {on}; treated as fully regulated")
        return
    above, cite = threshold.above_wh, threshold.cite()
    if dg.watt_hours is None:
        tally.fully_regulated = True
        tally.finding("DG_WATT_HOURS_MISSING", Severity.HOLD, where,
                      f"must be declared for {un} to tell small (<= {above:g} Wh) from fully regulated; treated as "
                      f"fully regulated until declared", cite)
    elif dg.watt_hours > above:
        tally.fully_regulated = True
        tally.reasons.append(f"items[{i}] {item.sku}: {dg.watt_hours:g} Wh is over {above:g} Wh: fully regulated "
                             f"({cite})")
    else:
        tally.small_uns.append(un)
        tally.reasons.append(f"items[{i}] {item.sku}: {dg.watt_hours:g} Wh is at most {above:g} Wh: small "
                             f"(Section II) ({cite})")


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
            _assess_item(i, item, index, on, tally)
    passenger_forbidden = bool(tally.passenger_reasons)
    needs = _section_needs(index, on, tally, passenger_forbidden)
    ocean = _in_force(index.ocean, on)
    if ocean is not None:
        tally.reasons.append(f"by sea: IMDG Class {ocean.hazard_class}, same UN numbers ({ocean.cite()})")

    return DgAssessment(
        passenger_aircraft_forbidden=passenger_forbidden,
        air_forbidden=bool(tally.air_reasons),
        cargo_aircraft_only=passenger_forbidden,
        fully_regulated=tally.fully_regulated,
        findings=tally.findings,
        marks=list(dict.fromkeys(needs.marks)),
        labels=list(dict.fromkeys(needs.labels)),
        documents=needs.documents,
        reasons=tally.reasons,
        passenger_aircraft_reason="; ".join(dict.fromkeys(tally.passenger_reasons)) or None,
        air_forbidden_reason="; ".join(tally.air_reasons) or None,
    )


@dataclass
class _Needs:
    """The marks, labels and documents of the sections the goods fall in."""

    marks: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    documents: list[RequiredDocument] = field(default_factory=list)


def _section_needs(index: _Index, on: date, tally: _Tally, passenger_forbidden: bool) -> _Needs:
    """What each section the items fell in asks for (small, fully regulated, cargo aircraft only), with reasons."""
    needs = _Needs()
    if tally.small_uns:
        row = _section(index, DgSection.SMALL, on, tally)
        if row is not None:
            uns = ", ".join(sorted(set(tally.small_uns)))
            needs.marks.extend(f"{mark} ({uns})" for mark in row.marks)
            needs.labels.extend(row.labels)
            tally.reasons.append(f"small lithium batteries ({uns}): {', '.join(row.marks)} ({row.cite()})")
    if tally.fully_regulated:
        row = _section(index, DgSection.FULLY_REGULATED, on, tally)
        if row is not None:
            needs.labels.extend(row.labels)
            needs.documents.extend(
                RequiredDocument(code=doc.code, name=doc.name, source=row.cite(),
                                 reason="fully regulated lithium batteries (dangerous goods)")
                for doc in row.documents)
            tally.reasons.append(f"fully regulated: {', '.join(row.labels)} and "
                                 f"{', '.join(d.name for d in row.documents)} ({row.cite()})")
    if passenger_forbidden:
        row = _section(index, DgSection.CARGO_AIRCRAFT_ONLY, on, tally)
        if row is not None:
            needs.labels.extend(row.labels)
            tally.reasons.append(f"cargo aircraft only on air legs: {', '.join(row.labels)} ({row.cite()})")
    return needs


def _section(index: _Index, section: DgSection, on: date, tally: _Tally) -> DgRule | None:
    row = _in_force(index.sections.get(section, ()), on)
    if row is None:
        # Said, not dropped: the person packing must know Tradelane has no marking rule for that date.
        tally.reasons.append(f"no {section} marking rule in force on {on}: marks and labels not determined")
    return row
