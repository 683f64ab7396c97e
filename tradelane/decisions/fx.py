"""Currency conversion on the ship date, from the dated reference rates in `fx_rates.yaml`.

Rates are stored as units of a currency per 1 EUR (the way the ECB publishes its reference rates), so any pair is a
cross rate through EUR. The ship date picks the rate set, never today's date, so a decision made again later gives
the same figures.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tradelane.rules import RuleBook
from tradelane.rules.schemas.fx import FxRate


class FxUnavailable(ValueError):
    """No reference rate for a currency on the date asked; the message names the currency and the date."""


def _index(book: RuleBook) -> dict[str, tuple[FxRate, ...]]:
    """Currency -> its rate rows, newest first (a lookup usually stops at the first row)."""
    by_currency: dict[str, list[FxRate]] = {}
    for row in book.table(FxRate):
        by_currency.setdefault(row.currency, []).append(row)
    return {cur: tuple(sorted(rows, key=lambda r: r.valid_from, reverse=True)) for cur, rows in by_currency.items()}


def rate_row(currency: str, on: date, book: RuleBook) -> FxRate:
    """The reference-rate row for `currency` in force on `on`.

    Raises:
        FxUnavailable: the currency has no row in force on that date.
    """
    rows = book.cached("fx.index", lambda: _index(book)).get(currency.upper(), ())
    for row in rows:
        if row.in_force(on):
            return row
    known = ", ".join(f"{r.valid_from}..{r.valid_to or 'open'}" for r in reversed(rows)) or "no rows"
    raise FxUnavailable(f"currency: no reference rate for {currency.upper()} on {on} in fx_rates ({known})")


def _shown(rate: Decimal) -> str:
    """A rate as people read it: 4 decimals, or 4 significant digits for small rates (1 KRW = 0.0006923 USD)."""
    if rate >= Decimal("0.1"):
        return f"{rate.quantize(Decimal('0.0001'))}"
    return f"{rate.quantize(Decimal(1).scaleb(rate.adjusted() - 3)):f}"


def convert(amount: Decimal, from_currency: str, to_currency: str, on: date, book: RuleBook) -> tuple[Decimal, str]:
    """Convert `amount` at the reference rates in force on `on`.

    Args:
        amount: What to convert, in `from_currency`.
        from_currency: ISO 4217 code of `amount`.
        to_currency: ISO 4217 code wanted.
        on: The date that selects the rate set (the shipment's ship date).
        book: The rule book holding `fx_rates`.

    Returns:
        The converted amount (unrounded Decimal) and the explanation, e.g.
        `1 USD = 0.8547 EUR (ECB euro reference rates, illustrative figures [sample], 2026-01-01)`.

    Raises:
        FxUnavailable: either currency has no rate on `on`.
    """
    source, target = from_currency.upper(), to_currency.upper()
    if source == target:
        return Decimal(amount), f"no conversion: already in {target}"
    src, dst = rate_row(source, on, book), rate_row(target, on, book)
    rate = dst.per_eur / src.per_eur
    newer = src if src.valid_from >= dst.valid_from else dst
    how = f"1 {source} = {_shown(rate)} {target} ({newer.cite()}, {newer.valid_from})"
    return Decimal(amount) * dst.per_eur / src.per_eur, how
