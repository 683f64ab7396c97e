"""Denied-party screening: the shipment's parties against the US Consolidated Screening List (CSL).

The list is read from the CSL bulk files exactly as published (CSV or JSON), indexed once, and each party name is
compared fuzzily with every listed name and alias after normalisation:

1. CJK ideographs are spaced apart, then everything is transliterated to ASCII (`anyascii`), so a Cyrillic or
   Chinese alias on the list and a Latin spelling typed by a merchant meet on the same letters;
2. case-folded, apostrophes dropped, other punctuation turned into spaces;
3. legal forms (LLC, Ltd, Co, GmbH, OOO, JSC, 有限公司 ...) removed, since they vary between filings of one company.

Scoring uses rapidfuzz's plain `ratio` on two precomputed forms and keeps the better one:
- tokens sorted (the same as `token_sort_ratio`, without re-sorting every listed name on every call): word order
  differs between lists ("PETROV, Ivan" / "Ivan Petrov") and a typo costs a few points;
- tokens run together: transliterations split words differently ("Cuigang Jingmi" / "Cui Gang Jing Mi").
`token_set_ratio` and `WRatio` were rejected: they reward a name whose words are a subset of another's ("orion
trading" against "dual orion trading use": 100 and 90), so short names would match every listed "... Trading"
company and bury real hits in noise.

A score of 97 or more blocks the shipment; a score from the threshold (88 by default) to 97 holds it for a person.
Names are indexed once per list, ordered by length: `ratio` cannot reach the threshold across a large length gap,
so each search scores only the slice of names that can. On the packaged sample a party name takes about 15 us; on a
list the size of the real CSL (~36,000 names) about 2 ms.
Party names are personal data: they appear in the finding message (ops must see what matched) but are never
logged by this module.
"""

from __future__ import annotations

import csv
import io
import json
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pycountry
from anyascii import anyascii
from pydantic import BaseModel, Field
from rapidfuzz import fuzz, process

from tradelane.decisions.models import Finding, Severity
from tradelane.models import Party, ShipmentRequest
from tradelane.rules import DATA_DIR, RuleBook

BLOCK_SCORE = 97.0
"""A match this close to a listed name is treated as the listed party itself."""
DEFAULT_THRESHOLD = 88.0
COUNTRY_MISMATCH_PENALTY = 5.0
"""Taken off when the entry lists countries and the party's is not among them: names travel and addresses go stale,
so the hit is kept, but an exact name in another country holds for a person instead of blocking."""

SCREENING_DIR = "screening"
OPERATOR_FILES = ("consolidated.json", "consolidated.csv")
"""The CSL bulk files under their published names; dropped into `<rules dir>/screening/`, they replace the sample."""
SAMPLE_FILE = "consolidated_screening_list.sample.csv"

# ---- normalisation ----------------------------------------------------------------------------------------------

_CJK = re.compile(r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff])")
_APOSTROPHES = re.compile(r"['’ʼ`´ʹ]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")

LEGAL_FORMS = frozenset({
    "llc", "ltd", "limited", "co", "company", "corp", "corporation", "inc", "incorporated", "gmbh", "mbh", "ag",
    "kg", "sa", "sarl", "srl", "spa", "sas", "bv", "nv", "plc", "llp", "pte", "pty", "oy", "aps", "kft", "zrt",
    "ooo", "oao", "zao", "pao", "ao", "jsc", "ojsc", "cjsc", "pjsc", "tov", "fze", "fzco", "fzc", "fzllc", "kk",
    "the",
})
"""Single-token legal forms and articles (after folding), removed wherever they stand."""
LEGAL_PHRASES = tuple(sorted((tuple(p.split()) for p in (
    "l l c", "co ltd", "s a", "s a r l", "s r l", "s p a", "b v", "n v", "p l c", "g m b h", "sp z o o", "k k",
    "o o o", "j s c", "p j s c", "a g",
    "kabushiki kaisha", "you xian gong si", "you xian ze ren gong si", "gu fen you xian gong si", "gong si",
    "ji tuan", "zhu shi hui she", "you xian hui she",
)), key=len, reverse=True))
"""Multi-token forms: dotted abbreviations and transliterated CJK forms (有限公司 -> you xian gong si)."""


def fold_text(text: str) -> str:
    """ASCII, case-folded, apostrophes dropped, other punctuation as single spaces: `Donets'k` -> `donetsk`."""
    folded = _APOSTROPHES.sub("", anyascii(_CJK.sub(r" \1 ", text)).casefold())
    return " ".join(_NON_ALNUM.sub(" ", folded).split())


def name_tokens(name: str) -> list[str]:
    """The words of a name that identify it: folded, transliterated, without legal forms."""
    tokens = [t for t in fold_text(name).split() if t not in LEGAL_FORMS]
    changed = True
    while changed:  # removing one phrase can join the ends of another ("s l l c a" -> "s a")
        changed = False
        for phrase in LEGAL_PHRASES:
            n = len(phrase)
            for i in range(len(tokens) - n + 1):
                if tuple(tokens[i:i + n]) == phrase:
                    del tokens[i:i + n]
                    changed = True
                    break
    return tokens


def normalise_name(name: str) -> str:
    """A name's comparison form: its identifying words, sorted, space-separated."""
    return " ".join(sorted(name_tokens(name)))


# ---- the list ---------------------------------------------------------------------------------------------------


class ScreeningListError(ValueError):
    """A screening file that cannot be used; the message names the file and the row."""


class ScreeningEntry(BaseModel):
    """One listed party, as the CSL gives it."""

    id: str
    """The CSL record id (`_id` in the CSV, `id` in the JSON)."""
    name: str
    alt_names: list[str] = Field(default_factory=list)
    source: str
    """The source list, e.g. `Entity List (EL) - Bureau of Industry and Security`."""
    entity_number: str | None = None
    """The number the source list gives the entry (not unique across lists)."""
    programs: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list)
    """ISO alpha-2 codes from the entry's addresses, nationalities and citizenships, first seen first."""
    type: str | None = None
    """`Entity`, `Individual`, `Vessel`, `Aircraft`, or empty (most BIS lists)."""


class ScreeningMatch(BaseModel):
    """A listed party whose name or alias is close to a party's name."""

    entry: ScreeningEntry
    matched_name: str
    """The listed name or alias that matched, as the list spells it."""
    score: float
    """0..100 after normalisation, less the country-mismatch penalty."""
    party_field: str = ""
    """The request field screened, e.g. `destination.company`; empty from `ScreeningList.match`."""


class _Form:
    """One comparison form of every listed name, ordered by length.

    `ratio` is at most 200 * min(a, b) / (a + b) for lengths a and b, so only names whose length is within that
    bound of the query's can reach the threshold: the search scores that slice alone and misses nothing.
    """

    def __init__(self, names: list[tuple[str, int, str]]) -> None:
        names.sort(key=lambda n: len(n[0]))
        self.strings = [n[0] for n in names]
        self.lengths = [len(n[0]) for n in names]
        self.owners = [(n[1], n[2]) for n in names]  # (entry index, name as listed)

    def search(self, query: str, threshold: float) -> Iterator[tuple[float, int, str]]:
        """(score, entry index, listed name) for each listed name scoring at least `threshold`."""
        bound = max(threshold, 1.0) / (200.0 - min(threshold, 100.0)) * (1 - 1e-9)  # never cut a boundary name
        lo = bisect_left(self.lengths, len(query) * bound)
        hi = bisect_right(self.lengths, len(query) / bound)
        for _, score, position in process.extract(query, self.strings[lo:hi], scorer=fuzz.ratio, processor=None,
                                                  score_cutoff=threshold, limit=None):
            yield (score, *self.owners[lo + position])


class ScreeningList:
    """A denied-party list indexed for fuzzy matching; build it with `load` or from entries."""

    def __init__(self, entries: Iterable[ScreeningEntry], path: Path | None = None) -> None:
        self.entries: tuple[ScreeningEntry, ...] = tuple(entries)
        self.path = path
        names: list[tuple[int, str, list[str]]] = []  # (entry index, name as listed, identifying words)
        for index, entry in enumerate(self.entries):
            for listed in dict.fromkeys([entry.name, *entry.alt_names]):
                tokens = name_tokens(listed)
                if tokens:
                    names.append((index, listed, tokens))
        self._forms = (_Form([(" ".join(sorted(t)), i, n) for i, n, t in names]),
                       _Form([("".join(t), i, n) for i, n, t in names]))

    @property
    def is_sample(self) -> bool:
        """Whether this is the packaged illustrative sample rather than a real list."""
        return self.path is not None and ".sample." in self.path.name

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def load(cls, path: Path) -> ScreeningList:
        """Read a CSL bulk file (`.csv` or `.json`) unmodified.

        Raises:
            ScreeningListError: The file is unreadable or a row lacks a name; the message names file and row.
        """
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as err:
            raise ScreeningListError(f"{path}: cannot read: {err}") from err
        suffix = path.suffix.lower()
        if suffix == ".csv":
            entries = _entries_from_csv(text, path)
        elif suffix == ".json":
            entries = _entries_from_json(text, path)
        else:
            raise ScreeningListError(f"{path}: expected a .csv or .json CSL bulk file")
        return cls(entries, path=path)

    def match(self, name: str, country: str | None = None, threshold: float = DEFAULT_THRESHOLD
              ) -> list[ScreeningMatch]:
        """Listed parties whose name or an alias scores at least `threshold` against `name`, best first.

        Args:
            name: The party's name as given.
            country: The party's ISO alpha-2 country; entries listing only other countries lose
                `COUNTRY_MISMATCH_PENALTY` points.
            threshold: Lowest score kept (0..100).
        """
        tokens = name_tokens(name)
        if not tokens:
            return []
        best: dict[int, tuple[float, str]] = {}
        for query, form in zip((" ".join(sorted(tokens)), "".join(tokens)), self._forms):
            for score, index, listed in form.search(query, threshold):
                if score > best.get(index, (-1.0, ""))[0]:
                    best[index] = (score, listed)
        matches = []
        for index, (score, listed) in best.items():
            entry = self.entries[index]
            if country and entry.countries and country.upper() not in entry.countries:
                score -= COUNTRY_MISMATCH_PENALTY
            if score >= threshold:
                matches.append(ScreeningMatch(entry=entry, matched_name=listed, score=round(score, 1)))
        return sorted(matches, key=lambda m: (-m.score, m.entry.id))


# ---- CSL bulk formats -------------------------------------------------------------------------------------------

def _country_code(value: str) -> str | None:
    """An ISO alpha-2 code for a code or country name, or None (free text such as a postal code)."""
    value = value.strip()
    if not value:
        return None
    if len(value) == 2 and value.isalpha():
        return value.upper() if pycountry.countries.get(alpha_2=value.upper()) else None
    try:
        return pycountry.countries.lookup(value).alpha_2
    except LookupError:
        return None


def _split(value: Any) -> list[str]:
    """A CSL multi-value cell: a JSON list, or CSV text separated by `;`."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(";")
    return [s for s in (str(item).strip() for item in items) if s]


def _entry(row: dict[str, Any], countries: list[str], where: str) -> ScreeningEntry:
    name = str(row.get("name") or "").strip()
    if not name:
        raise ScreeningListError(f"{where}: name is empty")
    number = row.get("entity_number")
    for key in ("nationalities", "citizenships"):
        countries += [c for c in map(_country_code, _split(row.get(key))) if c]
    return ScreeningEntry(
        id=str(row.get("id") or row.get("_id") or "").strip() or where,
        name=name,
        alt_names=[a for a in _split(row.get("alt_names")) if a != name],
        source=str(row.get("source") or "").strip() or "unknown list",
        entity_number=str(number).strip() if number not in (None, "") else None,
        programs=_split(row.get("programs")),
        countries=list(dict.fromkeys(countries)),
        type=str(row.get("type") or "").strip() or None,
    )


def _entries_from_csv(text: str, path: Path) -> list[ScreeningEntry]:
    # Leading `#` lines are the sample's notes; the published file has none, so they are skipped only at the top.
    lines = text.splitlines(keepends=True)
    skipped = 0
    while skipped < len(lines) and lines[skipped].startswith("#"):
        skipped += 1
    reader = csv.DictReader(io.StringIO("".join(lines[skipped:])))
    if reader.fieldnames is None or "name" not in reader.fieldnames:
        raise ScreeningListError(f"{path.name}: no CSL header with a 'name' column (got {reader.fieldnames})")
    entries = []
    try:
        for number, row in enumerate(reader, start=1):
            where = f"{path.name}: row {number} (line {skipped + reader.line_num})"
            # CSV addresses: `street, city, state, postal code, country` per address, addresses separated by `;`.
            countries = [c for c in (_country_code(a.rsplit(",", 1)[-1]) for a in _split(row.get("addresses"))) if c]
            entries.append(_entry(row, countries, where))
    except csv.Error as err:
        raise ScreeningListError(f"{path.name}: line {skipped + reader.line_num}: {err}") from err
    return entries


def _entries_from_json(text: str, path: Path) -> list[ScreeningEntry]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise ScreeningListError(f"{path.name}: not JSON: {err}") from err
    results = document.get("results") if isinstance(document, dict) else document
    if not isinstance(results, list):
        raise ScreeningListError(f"{path.name}: expected a 'results' list (CSL bulk JSON)")
    entries = []
    for index, row in enumerate(results):
        where = f"{path.name}: results[{index}]"
        if not isinstance(row, dict):
            raise ScreeningListError(f"{where}: expected an object, got {type(row).__name__}")
        countries = []
        for address in row.get("addresses") or []:
            value = address.get("country") if isinstance(address, dict) else str(address).rsplit(",", 1)[-1]
            code = _country_code(str(value or ""))
            if code:
                countries.append(code)
        entries.append(_entry(row, countries, where))
    return entries


# ---- the check --------------------------------------------------------------------------------------------------

def screening_list_path(book: RuleBook) -> Path:
    """The operator's CSL file in `<rules dir>/screening/` when there is one, else the packaged sample."""
    for name in OPERATOR_FILES:
        candidate = book.directory / SCREENING_DIR / name
        if candidate.exists():
            return candidate
    return DATA_DIR / SCREENING_DIR / SAMPLE_FILE


def default_screening_list(book: RuleBook) -> ScreeningList:
    """The screening list for `book`, loaded and indexed once per book (see `screening_list_path`)."""
    return book.cached("screening.list", lambda: ScreeningList.load(screening_list_path(book)))


def _party_fields(prefix: str, party: Party) -> list[tuple[str, str]]:
    fields = [(f"{prefix}.name", party.name)]
    if party.company:
        fields.append((f"{prefix}.company", party.company))
    return fields


def screen_parties(request: ShipmentRequest, screening: ScreeningList, threshold: float = DEFAULT_THRESHOLD
                   ) -> list[Finding]:
    """Findings (check `denied_party`) for the sender's and recipient's name and company.

    A match scoring `BLOCK_SCORE` or more blocks (`DENIED_PARTY_MATCH`); one from `threshold` up holds the
    shipment for a person (`DENIED_PARTY_POSSIBLE_MATCH`). Each finding records the list entry in `details`.
    """
    findings: list[Finding] = []
    for prefix, party in (("origin", request.origin), ("destination", request.destination)):
        for field, value in _party_fields(prefix, party):
            for hit in screening.match(value, party.country, threshold):
                findings.append(_finding(hit.model_copy(update={"party_field": field}), value))
    if screening.is_sample:
        findings.append(Finding(
            check="denied_party", code="DENIED_PARTY_SAMPLE_LIST", severity=Severity.INFO,
            message=f"parties screened against the packaged sample list ({len(screening)} fictitious entries), not "
                    f"a real one: put the CSL bulk file in <rules dir>/{SCREENING_DIR}/ (see its README.md)",
            source=str(screening.path.name) if screening.path else None,
        ))
    return findings


def _finding(hit: ScreeningMatch, value: str) -> Finding:
    entry = hit.entry
    blocked = hit.score >= BLOCK_SCORE
    listed = f"{entry.source}, entity {entry.entity_number or entry.id}"
    if entry.programs:
        listed += f", programs {'; '.join(entry.programs)}"
    action = ("treated as the listed party: do not ship" if blocked
              else "a person must confirm or clear the match before booking")
    return Finding(
        check="denied_party",
        code="DENIED_PARTY_MATCH" if blocked else "DENIED_PARTY_POSSIBLE_MATCH",
        severity=Severity.BLOCK if blocked else Severity.HOLD,
        message=f"{hit.party_field}: '{value}' matches '{hit.matched_name}' ({listed}) with score {hit.score:.1f}; "
                f"{action}",
        field=hit.party_field,
        source=entry.source,
        details={
            "list_source": entry.source,
            "entity_number": entry.entity_number or "",
            "entry_id": entry.id,
            "entry_name": entry.name,
            "matched_name": hit.matched_name,
            "score": f"{hit.score:.1f}",
            "programs": "; ".join(entry.programs),
            "type": entry.type or "",
            "countries": " ".join(entry.countries),
        },
    )
