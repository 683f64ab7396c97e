"""Prohibited and restricted goods: items against the destination's (or origin's) rules, by HS prefix and keywords.

A row matches an item when the item's HS code starts with one of the row's prefixes and, if the row lists
keywords, the description contains one of them as whole words (after transliteration and case folding). A row with
keywords and no prefixes matches any HS code (counterfeit goods). Rows that need both keep ordinary goods out:
"ivory-coloured phone case" (HS 3926) does not trip the CITES ivory row (HS 0507 / 9601).

Severity by the row's `severity`: prohibited -> BLOCK; restricted (a permit or certificate) and licence -> HOLD,
a person checks the document before booking.
"""

from __future__ import annotations

from tradelane.decisions.models import Finding, Severity
from tradelane.decisions.screening import fold_text
from tradelane.models import Item, ShipmentRequest
from tradelane.rules import RuleBook
from tradelane.rules.schemas.restricted import RestrictedGoods

EFFECT: dict[str, tuple[Severity, str]] = {
    "prohibited": (Severity.BLOCK, "PROHIBITED_GOODS"),
    "restricted": (Severity.HOLD, "RESTRICTED_GOODS"),
    "licence": (Severity.HOLD, "LICENCE_REQUIRED"),
}


class _Index:
    """Rows with their folded keywords, built once per rule book."""

    def __init__(self, rows: tuple[RestrictedGoods, ...]) -> None:
        self.rows = [(row, [f" {fold_text(k)} " for k in row.keywords]) for row in rows]


def _index(book: RuleBook) -> _Index:
    return book.cached("restricted.index", lambda: _Index(book.table(RestrictedGoods).rows))


def _match(row: RestrictedGoods, keywords: list[str], item: Item, description: str) -> str | None:
    """What made the row match the item (`HS prefix 93`, `keyword 'ivory'`), or None."""
    prefix = next((p for p in row.hs_prefixes if item.hs_code.startswith(p)), None)
    if row.hs_prefixes and prefix is None:
        return None
    if not keywords:
        return f"HS prefix {prefix}"
    word = next((k for k in keywords if k in description), None)
    if word is None:
        return None
    found = f"keyword '{word.strip()}'"
    return f"HS prefix {prefix} and {found}" if prefix else found


def check_restricted(request: ShipmentRequest, book: RuleBook) -> list[Finding]:
    """Findings (check `restricted_goods`) for items a destination or origin prohibits or restricts.

    Args:
        request: The shipment; `ship_date` selects the rows in force.
        book: The rule tables (`restricted_goods.yaml`).
    """
    rows = [(row, keywords) for row, keywords in _index(book).rows if row.in_force(request.ship_date)]
    findings: list[Finding] = []
    for i, item in enumerate(request.items):
        description = f" {fold_text(item.description)} "
        for row, keywords in rows:
            country = request.destination.country if row.direction == "import" else request.origin.country
            if not row.applies_to(country):
                continue
            why = _match(row, keywords, item, description)
            if why is None:
                continue
            severity, code = EFFECT[row.severity]
            field = f"items[{i}].hs_code" if row.hs_prefixes else f"items[{i}].description"
            side = "into" if row.direction == "import" else "out of"
            status = "subject to licence" if row.severity == "licence" else row.severity
            findings.append(Finding(
                check="restricted_goods", code=code, severity=severity,
                message=f"{field}: {item.hs_code} '{item.description}' is {row.goods}, {status} {side} "
                        f"{country} ({why}); {row.requirement}",
                field=field, source=row.cite(),
                details={"rule_id": row.rule_id, "matched": why, "country": country, "direction": row.direction},
            ))
    return findings
