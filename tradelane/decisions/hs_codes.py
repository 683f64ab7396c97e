"""HS code checks: digits, length for the destination, chapter, and the 6-digit subheading in the edition in force.

The Harmonized System has no check digit, so a code is checked by what it must be (reference section 3):
- digits only;
- either the 6-digit international subheading (the broker adds the national digits) or the destination's full
  national length (`hs_lengths.yaml`, e.g. US HTS 10, EU CN 8 / TARIC 10); any other length is refused;
- a chapter of the HS edition in force on the ship date (`hs_editions.yaml`): 01-97, 77 reserved; 98 and 99 are
  national chapters, so they are accepted only with the destination's national length and not checked further;
- the 6-digit subheading exists in that edition (`hs_subheadings.yaml`). The packaged list is a sample; an unknown
  subheading holds the shipment for ops to confirm the classification rather than blocking it.

A refused code gets only the refusal (`HS_LENGTH_INVALID`, `HS_CHAPTER_RESERVED` ...): the later checks assume a
well-formed code, and their findings would only restate the problem.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from tradelane.decisions.models import Finding, Severity
from tradelane.models import ShipmentRequest
from tradelane.rules import RuleBook, RuleDataError, RuleStatus
from tradelane.rules.schemas.hs_codes import HsEdition, HsLength, HsSubheading

SUBHEADING_DIGITS = 6


class _Index:
    """Lengths by country and subheadings by edition, built once per rule book."""

    def __init__(self, book: RuleBook) -> None:
        self.lengths: dict[str, list[HsLength]] = {}
        for row in book.table(HsLength):
            for country in row.countries:
                self.lengths.setdefault(country, []).append(row)
        for country, rows in self.lengths.items():
            rows.sort(key=lambda r: r.valid_from)
            for before, after in zip(rows, rows[1:]):
                if before.valid_to is None or before.valid_to > after.valid_from:
                    raise RuleDataError(f"hs_lengths: rows for {country} overlap (from {before.valid_from} and "
                                        f"from {after.valid_from})")
        self.subheadings: dict[tuple[str, str], list[HsSubheading]] = {}
        for subheading in book.table(HsSubheading):
            self.subheadings.setdefault((subheading.edition, subheading.code), []).append(subheading)
        self.edition_size = Counter(row.edition for row in book.table(HsSubheading))
        self.edition_sample = {row.edition for row in book.table(HsSubheading) if row.status is RuleStatus.SAMPLE}

    def national(self, country: str, on: date) -> HsLength | None:
        return next((row for row in self.lengths.get(country, []) if row.in_force(on)), None)

    def subheading(self, edition: str, code: str, on: date) -> HsSubheading | None:
        return next((row for row in self.subheadings.get((edition, code), []) if row.in_force(on)), None)


def _index(book: RuleBook) -> _Index:
    return book.cached("hs_codes.index", lambda: _Index(book))


def _finding(code: str, severity: Severity, field: str, message: str, source: str | None = None,
             **details: str) -> Finding:
    return Finding(check="hs_code", code=code, severity=severity, message=f"{field}: {message}", field=field,
                   source=source, details=details)


def _lengths_text(national: HsLength | None) -> str:
    if national is None:
        return "6 (international subheading)"
    return f"6 (international subheading) or {' or '.join(map(str, national.lengths))} ({national.system})"


def check_item_code(hs_code: str, field: str, destination: str, on: date, book: RuleBook) -> list[Finding]:
    """Findings for one HS code declared for `destination` on `on`; `field` names it in the messages."""
    index = _index(book)
    if not (hs_code.isascii() and hs_code.isdigit()):
        return [_finding("HS_NOT_DIGITS", Severity.BLOCK, field, f"'{hs_code}' is not digits only; HS codes have "
                         "no letters, dots or spaces")]
    national = index.national(destination, on)
    findings = _length_findings(hs_code, field, destination, national)
    if any(finding.severity is Severity.BLOCK for finding in findings):
        return findings  # a refused length: the later checks would only restate it
    edition = next((row for row in book.table(HsEdition) if row.in_force(on)), None)
    if edition is None:
        return [*findings, _finding("HS_EDITION_UNKNOWN", Severity.WARNING, field,
                                    f"no HS edition is in force on {on} in hs_editions; chapter and subheading "
                                    "not checked")]
    chapter = _chapter_finding(hs_code, field, edition, national)
    if chapter is not None:
        return [chapter]
    unknown = _unknown_subheading(hs_code, field, edition, index, on)
    return [*findings, unknown] if unknown is not None else findings


def _length_findings(hs_code: str, field: str, destination: str, national: HsLength | None) -> list[Finding]:
    """The 6-digit subheading or the destination's national length; one BLOCK finding when the length is refused."""
    cite = national.cite() if national else None
    if len(hs_code) == SUBHEADING_DIGITS:
        return [_finding("HS_NATIONAL_DIGITS_BY_BROKER", Severity.INFO, field,
                         f"'{hs_code}' is the 6-digit international subheading; the broker completes the "
                         f"national digits for {destination}", cite)]
    if national is None:
        if not 6 < len(hs_code) <= 10:
            return [_finding("HS_LENGTH_INVALID", Severity.BLOCK, field,
                             f"'{hs_code}' has {len(hs_code)} digits; expected 6 to 10", expected="6-10")]
        return [_finding("HS_NATIONAL_LENGTH_UNKNOWN", Severity.WARNING, field,
                         f"no national code length is known for {destination}; only the first 6 digits "
                         f"of '{hs_code}' were checked")]
    if len(hs_code) not in national.lengths:
        return [_finding("HS_LENGTH_INVALID", Severity.BLOCK, field,
                         f"'{hs_code}' has {len(hs_code)} digits; {destination} expects {_lengths_text(national)}",
                         cite, expected=",".join(map(str, [SUBHEADING_DIGITS, *national.lengths])))]
    return []


def _chapter_finding(hs_code: str, field: str, edition: HsEdition, national: HsLength | None) -> Finding | None:
    """Why the code's chapter ends the checks (national, reserved or not in the edition); None for a usual chapter."""
    chapter = int(hs_code[:2])
    if chapter in edition.national_chapters:
        if len(hs_code) == SUBHEADING_DIGITS or national is None:
            return _finding("HS_CHAPTER_NATIONAL", Severity.BLOCK, field,
                            f"chapter {chapter:02d} is for national use only in {edition.edition}; declare the "
                            f"full national code ({_lengths_text(national)}) or classify the goods in chapters "
                            f"{edition.first_chapter:02d}-{edition.last_chapter:02d}", edition.cite())
        # A national chapter (e.g. US 9801 returned goods) has no international subheadings to look up.
        return _finding("HS_CHAPTER_NATIONAL", Severity.INFO, field,
                        f"chapter {chapter:02d} is a national chapter of the {national.system}; accepted with the "
                        f"{len(hs_code)}-digit national code, not checked against {edition.edition}",
                        edition.cite())
    if chapter in edition.reserved_chapters:
        return _finding("HS_CHAPTER_RESERVED", Severity.BLOCK, field,
                        f"chapter {chapter:02d} is reserved (unused) in {edition.edition}; check the classification",
                        edition.cite())
    if not edition.first_chapter <= chapter <= edition.last_chapter:
        return _finding("HS_CHAPTER_INVALID", Severity.BLOCK, field,
                        f"chapter {chapter:02d} does not exist in {edition.edition} (chapters "
                        f"{edition.first_chapter:02d}-{edition.last_chapter:02d})", edition.cite())
    return None


def _unknown_subheading(hs_code: str, field: str, edition: HsEdition, index: _Index, on: date) -> Finding | None:
    """A HOLD when the 6-digit subheading is not in the edition's list, saying how complete that list is."""
    subheading = hs_code[:SUBHEADING_DIGITS]
    if index.subheading(edition.edition, subheading, on) is not None:
        return None
    size = index.edition_size.get(edition.edition, 0)
    if edition.edition in index.edition_sample:
        why = (f"the packaged {edition.edition} list is a sample of {size} common subheadings; load the full "
               "list (hs_subheadings.yaml in the rules directory) or confirm the code")
    elif size:
        why = f"it is not among the {size} {edition.edition} subheadings loaded"
    else:
        why = f"no {edition.edition} subheading list is loaded"
    return _finding("HS_SUBHEADING_UNKNOWN", Severity.HOLD, field,
                    f"subheading {subheading} is not known in {edition.edition} ({why}); ops must "
                    "confirm the classification", edition.cite(), subheading=subheading, edition=edition.edition)


def check_hs_codes(request: ShipmentRequest, book: RuleBook) -> list[Finding]:
    """Findings (check `hs_code`) for every item's HS code, by the destination's lengths and the ship date's edition.

    Args:
        request: The shipment; `destination.country` picks the national lengths, `ship_date` the HS edition.
        book: The rule tables (`hs_editions`, `hs_lengths`, `hs_subheadings`).
    """
    findings: list[Finding] = []
    for i, item in enumerate(request.items):
        findings += check_item_code(item.hs_code, f"items[{i}].hs_code", request.destination.country,
                                    request.ship_date, book)
    return findings
