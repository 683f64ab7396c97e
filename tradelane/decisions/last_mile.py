"""Last-mile choice: which partner hands the parcel over, and how (home, pickup point, locker).

The `last_mile_options` table lists, per partner, the destination countries it serves and for each delivery
method the price per parcel and the SLA in days. Every price in the table is in one currency (EUR in the packaged
data), so offers compare by amount without conversion; a table mixing currencies is refused when it is indexed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tradelane.decisions.marking import index_by_country
from tradelane.decisions.models import LastMileChoice, LastMileOption
from tradelane.enums import DeliveryMethod
from tradelane.models import ShipmentRequest
from tradelane.rules import RuleBook, RuleDataError
from tradelane.rules.schemas.last_mile import LastMileRow

# Last tie-breaker after cost, SLA and partner name, so the ranking is total and stable.
_METHOD_ORDER = {method: n for n, method in enumerate(DeliveryMethod)}


@dataclass(frozen=True)
class _LastMileIndex:
    by_country: dict[str, tuple[LastMileRow, ...]]
    currency: str


def _build_index(book: RuleBook) -> _LastMileIndex:
    table = book.table(LastMileRow)
    currencies = sorted({row.cost.currency for row in table})
    if len(currencies) > 1:
        raise RuleDataError(
            f"{table.name}: every row must price in one currency so offers compare directly; found "
            f"{', '.join(currencies)}"
        )
    by_country = index_by_country(
        table.name, table, key=lambda r: (r.partner, r.method), countries=lambda r: r.countries
    )
    return _LastMileIndex(
        by_country={c: tuple(rows) for c, rows in by_country.items()}, currency=currencies[0] if currencies else ""
    )


def _rank(row: LastMileRow) -> tuple[Decimal, int, str, int]:
    return (row.cost.amount, row.sla_days, row.partner, _METHOD_ORDER[row.method])


def _option(row: LastMileRow) -> LastMileOption:
    return LastMileOption(
        partner=row.partner, method=row.method, cost=row.cost.model_copy(), sla_days=row.sla_days, source=row.cite(),
    )


def _offer(row: LastMileRow) -> str:
    return f"{row.partner} {row.method} ({row.cost.amount} {row.cost.currency}, {row.sla_days} days)"


def choose_last_mile(request: ShipmentRequest, book: RuleBook) -> LastMileChoice:
    """The cheapest last-mile offer for the destination, in the customer's delivery method where anyone offers it.

    Candidates are the offers of partners serving the destination country on the ship date. Offers in the
    requested method (home delivery when none is requested) come first; when nobody offers that method, home
    delivery is chosen instead and the reasons say so. Offers rank by cost, then SLA days, then partner name.

    Args:
        request: The shipment; destination country, ship date and delivery_method decide.
        book: Rule tables (`last_mile_options`).

    Returns:
        The chosen offer (None when no partner serves the destination), every other candidate best first
        (offers in the chosen method before the others), and the reasons.
    """
    index: _LastMileIndex = book.cached("last_mile_options.index", lambda: _build_index(book))
    country, on = request.destination.country, request.ship_date
    rows = [row for row in index.by_country.get(country, ()) if row.in_force(on)]
    if not rows:
        return LastMileChoice(
            chosen=None, reasons=[f"destination.country: no last-mile partner serves {country} on {on}"]
        )

    reasons: list[str] = []
    wanted = request.delivery_method or DeliveryMethod.HOME
    if request.delivery_method is None:
        reasons.append("delivery_method not given: home delivery, the default")
    method: DeliveryMethod | None = wanted
    if not any(row.method is wanted for row in rows):
        method = DeliveryMethod.HOME if any(row.method is DeliveryMethod.HOME for row in rows) else None
        reasons.append(
            f"delivery_method: no partner offers {wanted} in {country} on {on}; "
            + ("falling back to home delivery" if method else "nor home delivery: choosing among all methods")
        )
    preferred = sorted((row for row in rows if method is None or row.method is method), key=_rank)
    others = sorted((row for row in rows if method is not None and row.method is not method), key=_rank)
    chosen = preferred[0]

    reasons.append(f"Chose {_offer(chosen)} in {country} ({chosen.cite()})")
    if len(preferred) > 1:
        reasons.append(_why_better(chosen, preferred[1]))
    reasons.append(
        f"Costs compared in {index.currency}: the last-mile rate card prices every offer in {index.currency}"
    )
    return LastMileChoice(
        chosen=_option(chosen), alternatives=[_option(row) for row in preferred[1:] + others], reasons=reasons
    )


def _why_better(chosen: LastMileRow, runner_up: LastMileRow) -> str:
    if chosen.cost.amount < runner_up.cost.amount:
        why = f"cheaper by {runner_up.cost.amount - chosen.cost.amount} {chosen.cost.currency}"
    elif chosen.sla_days < runner_up.sla_days:
        why = f"same price, {runner_up.sla_days - chosen.sla_days} day(s) faster"
    else:
        why = "same price and SLA: partner name breaks the tie"
    return f"Beats {_offer(runner_up)}: {why}"
