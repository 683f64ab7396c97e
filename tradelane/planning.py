"""Choosing a carrier plan from partner quotes, by the shipment's preference. Pure and explained."""

from tradelane.enums import Preference
from tradelane.state import Plan, Quote

# Weights of the balanced preference: price and time matter most, carbon breaks ties.
BALANCED_WEIGHTS = {"price": 0.4, "time": 0.4, "carbon": 0.2}


class NoPlan(ValueError):
    """No partner can carry the shipment; the message lists why each one declined."""


def pareto_set(quotes: list[Quote]) -> list[Quote]:
    """Quotes not beaten on price, time and carbon at once by another quote."""

    def dominates(a: Quote, b: Quote) -> bool:
        no_worse = (a.amount <= b.amount and a.transit_days_max <= b.transit_days_max and a.co2e_kg <= b.co2e_kg)
        better = (a.amount < b.amount or a.transit_days_max < b.transit_days_max or a.co2e_kg < b.co2e_kg)
        return no_worse and better

    return [q for q in quotes if not any(dominates(other, q) for other in quotes if other is not q)]


def _normalised(values: list[float]) -> list[float]:
    low, high = min(values), max(values)
    return [0.0 if high == low else (v - low) / (high - low) for v in values]


def _ranking_keys(quotes: list[Quote], preference: Preference) -> list[tuple[float, ...]]:
    """One sort key per quote: the preference's criterion first, then the others as tie-breakers, in order.

    Keys are compared as tuples, so a tie-breaker can never outweigh the criterion itself.
    """
    price = [float(q.amount) for q in quotes]
    time = [float(q.transit_days_max) for q in quotes]
    carbon = [q.co2e_kg for q in quotes]
    if preference is Preference.CHEAPEST:
        return list(zip(price, time, carbon))
    if preference is Preference.FASTEST:
        return list(zip(time, price, carbon))
    if preference is Preference.GREENEST:
        return list(zip(carbon, price, time))
    w = BALANCED_WEIGHTS
    balanced = [
        w["price"] * p + w["time"] * t + w["carbon"] * c
        for p, t, c in zip(_normalised(price), _normalised(time), _normalised(carbon))
    ]
    return list(zip(balanced, price, time))


def choose_plan(quotes: list[Quote], preference: Preference, declined: dict[str, str] | None = None) -> Plan:
    """Pick the best quote for `preference` and say why.

    Args:
        quotes: Quotes from the partners that can carry the shipment.
        preference: What the merchant optimises for.
        declined: Partner name to the reason it did not quote, recorded in the reasons.

    Raises:
        NoPlan: when there is no quote at all.
    """
    declined = declined or {}
    if not quotes:
        why = "; ".join(f"{partner}: {reason}" for partner, reason in sorted(declined.items())) or "no carrier"
        raise NoPlan(f"no carrier can take this shipment ({why})")
    currencies = {q.currency for q in quotes}
    if len(currencies) > 1:
        # Prices in different currencies cannot be compared without a rate table; time still can.
        preference = Preference.FASTEST
    keys = _ranking_keys(quotes, preference)
    best = min(range(len(quotes)), key=lambda i: (keys[i], quotes[i].partner))
    chosen = quotes[best]
    reasons = [
        f"preference {preference}: {chosen.partner} ({chosen.mode}) at {chosen.amount} {chosen.currency}, "
        f"{chosen.transit_days_min}-{chosen.transit_days_max} days, {chosen.co2e_kg:.1f} kg CO2e",
    ]
    if len(currencies) > 1:
        reasons.append(f"quotes came in {sorted(currencies)}: compared by transit time only")
    reasons += [f"{partner} declined: {reason}" for partner, reason in sorted(declined.items())]
    alternatives = [q for q in pareto_set(quotes) if q is not chosen]
    return Plan(partner=chosen.partner, mode=chosen.mode, quote=chosen, reasons=reasons, alternatives=alternatives)
