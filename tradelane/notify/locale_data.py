"""Locale facts CLDR does not hold, as small tables with their sources.

CLDR's date patterns write the day of the month as a plain number (`d`), everywhere. Two of our languages write the
first day of a month as an ordinal: French "1er décembre", Brazilian Portuguese "1º de dezembro". The date formatter
(`tradelane.notify.render`) shows the form below in place of the number wherever a CLDR pattern has its `d` field;
every other day, and every other locale, keeps CLDR's number.

Left out on purpose: Spanish writes "1 de diciembre" (the RAE's Ortografía (2010) prefers the cardinal; "1.º" is an
accepted American variant, not the norm); German's "1." is already in CLDR's pattern (`d. MMMM y`); English, Japanese,
Chinese and Arabic have no such rule for dates.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DayForms:
    """How a locale writes some days of the month where CLDR writes a plain number."""

    forms: dict[int, str]
    """Day of the month -> its written form (`{1: "1er"}`)."""
    source: str
    """The style authority the forms follow."""


DAY_OF_MONTH: dict[str, DayForms] = {
    "fr": DayForms(
        forms={1: "1er"},
        source="Lexique des règles typographiques en usage à l'Imprimerie nationale (1990), dates: the first day of "
               "a month is an ordinal, 'le 1er avril 1753'; the other days are cardinal numbers",
    ),
    "pt-BR": DayForms(
        forms={1: "1º"},
        source="Senado Federal, Manual de Comunicação, Estilo, 'Datas': 'O primeiro dia do mês é escrito em ordinal: "
               "1º de fevereiro, e não 1 de fevereiro'; Folha de S.Paulo, Manual da Redação, 'data'",
    ),
}
"""Supported locale -> its day-of-month forms; a locale not listed writes every day as CLDR does."""


def day_forms(locale: str) -> dict[int, str]:
    """The day-of-month forms of a supported locale (empty when it has none)."""
    found = DAY_OF_MONTH.get(locale)
    return found.forms if found else {}
