"""Packaging and marking by destination: what must be on the parcels and the goods, and what is wrong with them.

Rules come from the `marking_rules` table, chosen by destination country, optional region and the ship date:

- ISPM 15: solid wood packaging (the `applies_to` packagings) going to an enforcing country must be treated and
  carry the IPPC mark on two opposite sides;
- country-of-origin marking (US 19 CFR 134): each article marked in English with its country of origin;
- label language: the language(s) the product text and labels must be in (Quebec French, Canada bilingual, else
  the destination's main language).

Carrier size and weight limits are passed in by the caller (they belong to the booked carrier, not to the
destination). Every violation is a HOLD: ops can fix the parcels and release the shipment.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import TypeVar

import pycountry
from anyascii import anyascii
from pydantic import BaseModel

from tradelane.decisions.models import Finding, Marking, Severity
from tradelane.enums import Packaging
from tradelane.models import Item, ShipmentRequest
from tradelane.rules import Rule, RuleBook, RuleDataError
from tradelane.rules.schemas.marking import MarkingKind, MarkingRule

# Solid wood packagings, for reporting wood the table has no rule for; the rows' `applies_to` decides otherwise.
# Processed wood (plywood, OSB) is ISPM 15 exempt and has no Packaging value of its own.
SOLID_WOOD = frozenset({Packaging.WOOD_PALLET, Packaging.WOOD_CRATE})


class CarrierLimit(BaseModel):
    """A carrier's per-parcel limits, checked against every parcel."""

    partner: str
    max_parcel_kg: float | None = None
    max_parcel_length_cm: float | None = None
    """Longest side."""


# ---- indexes, built once per rule book ------------------------------------------------------------------------

RowT = TypeVar("RowT", bound=Rule)


def index_by_country(
    table: str, rows: Iterable[RowT], key: Callable[[RowT], Hashable], countries: Callable[[RowT], Iterable[str]]
) -> dict[str, list[RowT]]:
    """Rows by each country they list, refusing two rows with the same key for one country at the same time.

    `Rule.key()` holds one key per row, but a row listing 27 countries is 27 keys, so tables with country lists
    check their overlaps here instead.

    Raises:
        RuleDataError: two rows for the same country and key are in force on the same day.
    """
    by_country: dict[str, list[RowT]] = {}
    for row in rows:
        for country in countries(row):
            by_country.setdefault(country, []).append(row)
    for country, listed in by_country.items():
        by_key: dict[Hashable, list[RowT]] = {}
        for row in listed:
            by_key.setdefault(key(row), []).append(row)
        for k, same in by_key.items():
            same.sort(key=lambda r: r.valid_from)
            for before, after in zip(same, same[1:]):
                if before.valid_to is None or before.valid_to > after.valid_from:
                    raise RuleDataError(
                        f"{table}: rows for {country} {k} overlap: one from {before.valid_from} to "
                        f"{before.valid_to or 'open'}, another from {after.valid_from}"
                    )
    return by_country


def _norm_region(text: str) -> str:
    # "Québec", "quebec", "CA-QC" and "qc" all become comparable keys.
    return " ".join(anyascii(text).upper().replace("-", " ").split())


@dataclass(frozen=True)
class _MarkingIndex:
    rows: dict[tuple[MarkingKind, str], tuple[MarkingRule, ...]]
    """(kind, destination country) -> rows, region rows first."""
    regions: dict[tuple[str, str], str]
    """(country, normalised spelling of a subdivision) -> region code, for countries with region rows."""
    regional_countries: frozenset[str]
    """Countries with at least one region row."""


def _build_index(book: RuleBook) -> _MarkingIndex:
    table = book.table(MarkingRule)
    by_country = index_by_country(table.name, table, key=lambda r: (r.kind, r.region), countries=lambda r: r.countries)
    rows: dict[tuple[MarkingKind, str], list[MarkingRule]] = {}
    for country, listed in by_country.items():
        for row in listed:
            rows.setdefault((row.kind, country), []).append(row)
    regional = frozenset(c for (_, c), listed in rows.items() if any(r.region for r in listed))
    regions: dict[tuple[str, str], str] = {}
    for country in regional:
        for sub in pycountry.subdivisions.get(country_code=country) or ():
            code = sub.code.split("-", 1)[1]
            for spelling in (code, sub.code, sub.name):
                regions[(country, _norm_region(spelling))] = code
    return _MarkingIndex(
        rows={k: tuple(sorted(v, key=lambda r: r.region is None)) for k, v in rows.items()},
        regions=regions,
        regional_countries=regional,
    )


def _index(book: RuleBook) -> _MarkingIndex:
    return book.cached("marking_rules.index", lambda: _build_index(book))


@cache
def _country_name(code: str) -> str:
    """English short name as used on marks: `China`, `South Korea` (not `Korea, Republic of`)."""
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return getattr(country, "common_name", None) or country.name


@cache
def _language_name(code: str) -> str:
    language = pycountry.languages.get(alpha_2=code) if len(code) == 2 else pycountry.languages.get(alpha_3=code)
    return language.name if language is not None else code


def _languages_phrase(codes: list[str], joiner: str = " and ") -> str:
    names = [_language_name(c) for c in codes]
    text = names[0] if len(names) == 1 else ", ".join(names[:-1]) + joiner + names[-1]
    return f"{text} ({', '.join(codes)})"


# ---- the decision ---------------------------------------------------------------------------------------------


@dataclass
class _Draft:
    marks: list[str]
    labels: list[str]
    violations: list[Finding]
    reasons: list[str]


def marking(
    request: ShipmentRequest,
    book: RuleBook,
    *,
    carrier_limits: list[CarrierLimit] | None = None,
    dg_marks: list[str] | None = None,
    dg_labels: list[str] | None = None,
) -> Marking:
    """What the parcels and goods must carry at the destination, and every rule they break.

    Args:
        request: The shipment; its destination country, region and ship date select the rules.
        book: Rule tables (`marking_rules`).
        carrier_limits: Per-parcel weight and length limits of the carriers that will handle the parcels.
        dg_marks: Dangerous-goods marks from the DG check, merged in (deduplicated, order kept).
        dg_labels: Dangerous-goods labels from the DG check, merged in likewise.

    Returns:
        The marks and labels to apply, the destination's label language, HOLD findings for what is wrong
        (`packaging` for wood treatment and carrier limits, `marking` for origin marks and label language) and
        the reasons, each citing its rule.
    """
    index = _index(book)
    draft = _Draft(marks=[], labels=[], violations=[], reasons=[])
    destination = request.destination
    region = _region(index, destination.country, destination.region)
    _ispm15(request, index, region, draft)
    _origin_marking(request, index, region, draft)
    language = _label_language(request, index, region, draft)
    _carrier_limits(request, carrier_limits or [], draft)
    return Marking(
        marks=list(dict.fromkeys([*draft.marks, *(dg_marks or [])])),
        labels=list(dict.fromkeys([*draft.labels, *(dg_labels or [])])),
        label_language=language,
        violations=draft.violations,
        reasons=draft.reasons,
    )


def _region(index: _MarkingIndex, country: str, region: str | None) -> str | None:
    """The destination region as the table spells it (`QC`); None where no rule of the country is regional."""
    if region is None or country not in index.regional_countries:
        return None
    quick = region.strip().upper()
    if (country, quick) in index.regions:
        return index.regions[(country, quick)]
    return index.regions.get((country, _norm_region(region)), quick)


def _rules(index: _MarkingIndex, kind: MarkingKind, country: str, region: str | None, on: date) -> list[MarkingRule]:
    """Rows of `kind` in force for the destination on `on`, region rows first."""
    return [
        row for row in index.rows.get((kind, country), ())
        if (row.region is None or row.region == region) and row.in_force(on)
    ]


def _ispm15(request: ShipmentRequest, index: _MarkingIndex, region: str | None, draft: _Draft) -> None:
    origin, country, on = request.origin.country, request.destination.country, request.ship_date
    rules = _rules(index, MarkingKind.ISPM15, country, region, on)
    wood_kinds = {p for rule in rules for p in rule.applies_to} if rules else SOLID_WOOD
    wooden = [(i, p) for i, p in enumerate(request.parcels) if p.packaging in wood_kinds]
    if not wooden:
        return
    names = ", ".join(f"parcels[{i}]" for i, _ in wooden)
    if not rules:
        draft.reasons.append(f"ISPM 15: no rule for {country} in force on {on}; wood packaging of {names} not checked")
        return
    for rule in rules:
        if origin == country:
            draft.reasons.append(f"ISPM 15: {names} stay within {country}; the standard covers wood crossing borders")
            continue
        if origin in rule.exempt_origins:
            draft.reasons.append(f"ISPM 15 ({country}): wood packaging coming from {origin} is exempt ({rule.cite()})")
            continue
        draft.reasons.append(
            f"ISPM 15 ({country}): solid wood packaging thicker than {rule.min_thickness_mm or 6:g} mm ({names}) "
            f"must be treated and marked; processed wood such as plywood or OSB is exempt ({rule.cite()})"
        )
        for i, parcel in wooden:
            if parcel.packaging not in rule.applies_to:
                continue
            draft.marks.append(f"parcels[{i}]: {rule.requirement}")
            if parcel.ispm15_marked is not True:
                state = "not stated" if parcel.ispm15_marked is None else "false"
                draft.violations.append(Finding(
                    check="packaging",
                    code="ISPM15_MARK_MISSING",
                    severity=Severity.HOLD,
                    message=(
                        f"parcels[{i}].ispm15_marked: {parcel.packaging} going to {country} must be ISPM 15 treated "
                        f"and carry the {rule.requirement} (ispm15_marked is {state})"
                    ),
                    field=f"parcels[{i}].ispm15_marked",
                    source=rule.cite(),
                ))


def _origin_marking(request: ShipmentRequest, index: _MarkingIndex, region: str | None, draft: _Draft) -> None:
    country, on = request.destination.country, request.ship_date
    for rule in _rules(index, MarkingKind.ORIGIN_MARKING, country, region, on):
        draft.reasons.append(
            f"Origin marking ({country}): {rule.requirement}"
            + (f"; {rule.penalty} if missing" if rule.penalty else "") + f" ({rule.cite()})"
        )
        unknown: list[str] = []
        for i, item in enumerate(request.items):
            if item.origin_country == country:
                continue  # the destination's own goods are not imports of foreign origin
            name = _country_name(item.origin_country)
            draft.marks.append(f"items[{i}] ({item.sku}): 'Made in {name}': {rule.requirement}")
            if item.origin_marked is None:
                unknown.append(f"items[{i}]")
            elif item.origin_marked is False:
                draft.violations.append(Finding(
                    check="marking",
                    code="ORIGIN_MARKING_MISSING",
                    severity=Severity.HOLD,
                    message=(
                        f"items[{i}].origin_marked: {item.sku} is not marked with its country of origin ({name}); "
                        f"{country} requires the {rule.requirement}"
                        + (f"; unmarked articles pay a {rule.penalty}" if rule.penalty else "")
                    ),
                    field=f"items[{i}].origin_marked",
                    source=rule.cite(),
                    details={"origin_country": item.origin_country, "penalty": rule.penalty},
                ))
        if unknown:
            draft.reasons.append(f"Origin marking ({country}): not stated for {', '.join(unknown)}; confirm the mark")


def _label_language(request: ShipmentRequest, index: _MarkingIndex, region: str | None, draft: _Draft) -> str:
    destination, on = request.destination, request.ship_date
    country = destination.country
    where = f"{country}-{region}" if region else country
    # A regional rule for this region that is not (yet, or any more) in force: say so, so nobody assumes it.
    for row in index.rows.get((MarkingKind.LABEL_LANGUAGE, country), ()):
        if row.region is not None and row.region == region and not row.in_force(on):
            span = f"from {row.valid_from}" + (f" to {row.valid_to}" if row.valid_to else "")
            draft.reasons.append(
                f"Label language ({where}): the regional rule ({row.requirement}; {row.cite()}) applies {span}, "
                f"not on {on}: only {country}'s own rules apply"
            )
    rules = _rules(index, MarkingKind.LABEL_LANGUAGE, country, region, on)
    if not rules:
        language = destination.locale.split("-")[0] if destination.locale else "en"
        basis = f"destination.locale {destination.locale}" if destination.locale else "the default"
        draft.reasons.append(
            f"Label language ({where}): no rule in the table on {on}; using {language} from {basis} [general], "
            "listed as advice and not checked against the items"
        )
        phrase = _languages_phrase([language])
        draft.labels.extend(
            f"items[{i}] ({item.sku}): product text and labels in {phrase}" for i, item in enumerate(request.items)
        )
        return language
    for rule in rules:
        need = _languages_phrase(rule.languages, " and " if rule.require == "all" else " or ")
        draft.reasons.append(f"Label language ({where}): {need}: {rule.requirement} ({rule.cite()})")
    # Everything every rule needs, in rule order: languages all required, then "one of" groups not covered.
    required = list(dict.fromkeys(
        lang for rule in rules if rule.require == "all" or len(rule.languages) == 1 for lang in rule.languages
    ))
    choices = [rule.languages for rule in rules if rule.require == "any" and len(rule.languages) > 1
               and not set(rule.languages) & set(required)]
    phrase = " plus ".join(
        ([_languages_phrase(required)] if required else []) + [f"one of {_languages_phrase(c, ', ')}" for c in choices]
    )
    for i, item in enumerate(request.items):
        draft.labels.append(f"items[{i}] ({item.sku}): product text and labels in {phrase}")
        if item.label_languages is not None:
            _check_item_languages(i, item, rules, where, draft)
    return rules[0].languages[0]


def _check_item_languages(i: int, item: Item, rules: list[MarkingRule], where: str, draft: _Draft) -> None:
    given = set(item.label_languages or ())
    broken: list[tuple[MarkingRule, list[str]]] = []
    for rule in rules:
        if rule.require == "all":
            missing = [lang for lang in rule.languages if lang not in given]
        else:
            missing = [] if given & set(rule.languages) else list(rule.languages)
        if missing:
            broken.append((rule, missing))
    if not broken:
        return
    has = ", ".join(item.label_languages or ()) or "none"
    parts = [
        f"{_languages_phrase(missing, ' and ' if rule.require == 'all' else ' or ')} is missing: {rule.requirement}"
        for rule, missing in broken
    ]
    draft.violations.append(Finding(
        check="marking",
        code="LABEL_LANGUAGE_MISSING",
        severity=Severity.HOLD,
        message=f"items[{i}].label_languages: {item.sku} is labelled in {has}; for {where} " + "; ".join(parts),
        field=f"items[{i}].label_languages",
        source="; ".join(dict.fromkeys(rule.cite() for rule, _ in broken)),
        details={"missing": ",".join(dict.fromkeys(lang for _, m in broken for lang in m)), "region": where},
    ))


def _carrier_limits(request: ShipmentRequest, limits: list[CarrierLimit], draft: _Draft) -> None:
    for limit in limits:
        draft.reasons.append(
            f"Carrier limits ({limit.partner}): "
            f"{'no weight limit' if limit.max_parcel_kg is None else f'{limit.max_parcel_kg:g} kg'} per parcel, "
            f"{'no length limit' if limit.max_parcel_length_cm is None else f'{limit.max_parcel_length_cm:g} cm'} "
            "longest side"
        )
        for i, parcel in enumerate(request.parcels):
            if limit.max_parcel_kg is not None and parcel.weight_kg > limit.max_parcel_kg:
                draft.violations.append(_over_limit(
                    limit.partner, "PARCEL_OVER_WEIGHT_LIMIT", f"parcels[{i}].weight_kg", "kg",
                    parcel.weight_kg, limit.max_parcel_kg, f"{parcel.weight_kg:g} kg is above {limit.partner}'s limit"))
            if limit.max_parcel_length_cm is None:
                continue
            side, longest = max(
                (("length_cm", parcel.length_cm), ("width_cm", parcel.width_cm), ("height_cm", parcel.height_cm)),
                key=lambda pair: pair[1],
            )
            if longest > limit.max_parcel_length_cm:
                draft.violations.append(_over_limit(
                    limit.partner, "PARCEL_OVER_LENGTH_LIMIT", f"parcels[{i}].{side}", "cm", longest,
                    limit.max_parcel_length_cm,
                    f"longest side {longest:g} cm is above {limit.partner}'s length limit"))


def _over_limit(partner: str, code: str, field: str, unit: str, value: float, limit: float, what: str) -> Finding:
    """A parcel over a carrier limit: a hold, because ops can repack or split it."""
    return Finding(
        check="packaging", code=code, severity=Severity.HOLD,
        message=f"{field}: {what} of {limit:g} {unit}", field=field, source=f"carrier limit ({partner})",
        details={"partner": partner, f"limit_{unit}": f"{limit:g}", f"value_{unit}": f"{value:g}"},
    )
