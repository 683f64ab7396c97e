"""Sanctions and embargoes: the countries and regions a shipment touches, against the US, EU and UN programmes.

Tradelane applies every authority's table to every shipment, whoever ships: a conservative policy, since a merchant,
carrier or bank in the chain is usually bound by at least one of them. Effect by the programme's kind:

- `comprehensive` (an embargo on a country or region): BLOCK;
- `sectoral` (licences and bans by goods, sector and party, e.g. the EU's Russia and Belarus measures): HOLD, a
  person checks the goods and end use against the programme (a licence check) before anything is booked;
- `targeted` (listed persons only, e.g. Syria after its country-wide programme ended): WARNING, the denied-party
  screen covers the listings.

Regions are matched on `Party.region` by ISO 3166-2 code (`UA-43`, or `43` with country UA) or by name, after
transliteration and without generic words (`Respublika Krym`, `Донецкая область`, `so-called DNR`); when a party
gives no region, its city is compared with the cities a row lists (`Simferopol`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pycountry

from tradelane.decisions.models import Finding, Severity
from tradelane.decisions.screening import fold_text
from tradelane.models import Party, ShipmentRequest
from tradelane.rules import RuleBook
from tradelane.rules.schemas.sanctions import SanctionsProgramme

POLICY = "Tradelane applies the US, EU and UN sanctions tables to every shipment (conservative policy)"

SEVERITY: dict[str, Severity] = {"comprehensive": Severity.BLOCK, "sectoral": Severity.HOLD,
                                 "targeted": Severity.WARNING}

# Words that say what kind of place a name is, not which one: `Donetsk Oblast` and `Donetsk People's Republic` are
# both `donetsk`.
GENERIC_WORDS = frozenset({
    "oblast", "oblasti", "obl", "region", "regional", "province", "republic", "respublika", "autonomous",
    "avtonomna", "avtonomnaya", "city", "gorod", "misto", "of", "the", "people", "peoples", "narodnaya", "narodna",
    "so", "called", "socalled", "ukraine", "russia", "russian", "federation", "ukraina", "rossiya",
})


def region_key(text: str) -> str:
    """A region or city name's comparison form: `Donets'ka oblast'` -> `donetska`."""
    return " ".join(w for w in fold_text(text).split() if w not in GENERIC_WORDS)


def _subdivision_code(region: str, country: str) -> str | None:
    """`UA-43` for `UA-43`, `ua 43` or `UA43`, and for `43` given with country UA; None for a name."""
    text = region.strip().upper()
    found = re.fullmatch(r"([A-Z]{2})\s*-?\s*([A-Z0-9]{1,3})", text)
    if found:
        return f"{found[1]}-{found[2]}"
    return f"{country}-{text}" if re.fullmatch(r"[A-Z0-9]{1,3}", text) else None


def _add(index: dict[str, list[SanctionsProgramme]], key: str, row: SanctionsProgramme) -> None:
    rows = index.setdefault(key, [])
    if row not in rows:  # a name listed twice (alias and ISO name) still names the row once
        rows.append(row)


class _Index:
    """Rows by country, by region code, and by region and city name; built once per rule book."""

    def __init__(self, rows: tuple[SanctionsProgramme, ...]) -> None:
        self.by_country: dict[str, list[SanctionsProgramme]] = {}
        self.by_code: dict[str, list[SanctionsProgramme]] = {}
        self.by_name: dict[str, list[SanctionsProgramme]] = {}
        self.by_city: dict[str, list[SanctionsProgramme]] = {}
        self.longest_name = 1
        for row in rows:
            if not row.regions:
                self.by_country.setdefault(row.country, []).append(row)
                continue
            names = list(row.region_names)
            for code in row.regions:
                self.by_code.setdefault(code.upper(), []).append(row)
                subdivision = pycountry.subdivisions.get(code=code.upper())
                if subdivision is not None:
                    names.append(subdivision.name)
            for name in names:
                key = region_key(name)
                if key:
                    _add(self.by_name, key, row)
                    self.longest_name = max(self.longest_name, len(key.split()))
            for city in row.cities:
                _add(self.by_city, region_key(city), row)

    def region_rows(self, party: Party) -> Iterator[tuple[SanctionsProgramme, str, str]]:
        """(row, party field, matched text) for the regions the party's address names."""
        if party.region:
            for row in self.by_code.get(_subdivision_code(party.region, party.country) or "", []):
                yield row, "region", party.region
            words = region_key(party.region).split()
            for size in range(1, min(self.longest_name, len(words)) + 1):
                for start in range(len(words) - size + 1):
                    for row in self.by_name.get(" ".join(words[start:start + size]), []):
                        if party.country in (row.country, *row.party_countries):
                            yield row, "region", party.region
        else:
            for row in self.by_city.get(region_key(party.city), []):
                if party.country in (row.country, *row.party_countries):
                    yield row, "city", party.city


def _index(book: RuleBook) -> _Index:
    return book.cached("sanctions.index", lambda: _Index(book.table(SanctionsProgramme).rows))


def _country_rows(country: str, on: date, book: RuleBook) -> list[SanctionsProgramme]:
    return [row for row in _index(book).by_country.get(country, []) if row.in_force(on)]


def transit_block(country: str, on: date, book: RuleBook) -> str | None:
    """Why goods may not pass through `country` on `on` (a comprehensive embargo), or None when they may.

    Sectoral programmes (e.g. RU, BY) do not block transit here; the planner's risk register prices that exposure.
    """
    reasons = [f"comprehensive embargo ({row.authority}: {row.programme}; {row.cite()})"
               for row in _country_rows(country.upper(), on, book) if row.kind == "comprehensive"]
    return "; ".join(reasons) or None


def _country_message(field: str, country: str, row: SanctionsProgramme) -> str:
    if row.kind == "comprehensive":
        what = "is under a comprehensive embargo"
        action = "the shipment must not go"
    elif row.kind == "sectoral":
        what = "is under sectoral sanctions"
        action = ("a person must check the goods, their end use and the parties against the programme (licence "
                  "check) before booking")
    else:
        what = "has targeted sanctions only"
        action = "no country-wide embargo applies; listed persons are caught by the denied-party screen"
    return f"{field}: {country} {what} ({row.authority}: {row.programme}); {action}. {POLICY}"


_COUNTRY_CODES = {
    "destination": {"comprehensive": "EMBARGOED_DESTINATION"},
    "origin": {"comprehensive": "EMBARGOED_ORIGIN"},
    "goods": {"comprehensive": "EMBARGOED_ORIGIN_GOODS"},
}


def _code(role: str, kind: str) -> str:
    return _COUNTRY_CODES[role].get(kind) or ("SECTORAL_SANCTIONS" if kind == "sectoral" else "TARGETED_SANCTIONS")


def _country_findings(role: str, field: str, country: str, on: date, book: RuleBook) -> list[Finding]:
    return [
        Finding(check="sanctions", code=_code(role, row.kind), severity=SEVERITY[row.kind],
                message=_country_message(field, country, row), field=field, source=row.cite(),
                details={"programme_id": row.programme_id, "authority": row.authority, "kind": row.kind})
        for row in _country_rows(country, on, book)
    ]


def _region_findings(prefix: str, party: Party, on: date, book: RuleBook) -> list[Finding]:
    findings, seen = [], set()
    for row, part, text in _index(book).region_rows(party):
        if row.programme_id in seen or not row.in_force(on):
            continue
        seen.add(row.programme_id)
        field = f"{prefix}.{part}"
        regions = ", ".join(row.regions)
        findings.append(Finding(
            check="sanctions",
            code="EMBARGOED_REGION" if row.kind == "comprehensive" else _code("destination", row.kind),
            severity=SEVERITY[row.kind],
            message=f"{field}: '{text}' lies in {regions}, under a {row.kind} programme ({row.authority}: "
                    f"{row.programme}); the whole region is treated as covered because an address cannot show "
                    f"the line of control. {POLICY}",
            field=field, source=row.cite(),
            details={"programme_id": row.programme_id, "authority": row.authority, "kind": row.kind,
                     "regions": regions},
        ))
    return findings


def check_sanctions(request: ShipmentRequest, book: RuleBook) -> list[Finding]:
    """Findings (check `sanctions`) for the origin and destination country and region, and the goods' origin.

    Args:
        request: The shipment; its `ship_date` selects the programmes in force.
        book: The rule tables (`sanctions.yaml`).
    """
    on = request.ship_date
    findings: list[Finding] = []
    for prefix, party in (("destination", request.destination), ("origin", request.origin)):
        findings += _country_findings(prefix, f"{prefix}.country", party.country, on, book)
        findings += _region_findings(prefix, party, on, book)
    parties = {request.origin.country, request.destination.country}
    for index, item in enumerate(request.items):
        if item.origin_country not in parties:  # already reported for the party's country
            findings += [f for f in _country_findings("goods", f"items[{index}].origin_country", item.origin_country,
                                                      on, book) if f.severity is not Severity.WARNING]
    return findings
