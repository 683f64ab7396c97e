"""Transport strategy: candidate plans across modes and legs, hard constraints first, then the preference.

Candidates come from the route templates (`routes.yaml`): direct air express, air freight, ocean LCL/FCL, rail and
road, and multimodal combinations through a hub (rail+road, sea+road, sea+air, air+road). Each leg gets a carrier
from the partner directory, a cost (the carrier's quote when it quoted that lane, else the rate table), a transit
range, CO2e (ISO 14083 / GLEC) and lane risks. Plans that break a hard constraint are rejected with the reason;
the rest are ranked for the shipment's preference, and the Pareto set (cost, time, CO2e, risk) is returned.
"""

import math
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal

from pydantic import BaseModel

from tradelane.decisions import carbon, geo, risk
from tradelane.decisions.dangerous_goods import DgAssessment, leg_allowed
from tradelane.decisions.fx import FxUnavailable, convert
from tradelane.decisions.models import (
    Leg,
    Money,
    PlanSet,
    Quote,
    RejectedPlan,
    RiskAssessment,
    TransportPlan,
)
from tradelane.decisions.sanctions import transit_block
from tradelane.enums import Mode, Preference, ServiceLevel
from tradelane.models import ShipmentRequest
from tradelane.partners import PARTNERS, PartnerInfo, carriers_for
from tradelane.rules import RuleBook
from tradelane.rules.schemas.planner import FreightRate, Route, VolumetricDivisor

# What each service level may use: a product policy, not a regulation, so it lives here.
MODES_FOR_SERVICE: dict[ServiceLevel, frozenset[Mode]] = {
    ServiceLevel.EXPRESS: frozenset({Mode.AIR_EXPRESS, Mode.ROAD}),
    ServiceLevel.STANDARD: frozenset({Mode.AIR_EXPRESS, Mode.AIR_FREIGHT, Mode.RAIL, Mode.ROAD}),
    ServiceLevel.ECONOMY: frozenset({Mode.OCEAN_LCL, Mode.OCEAN_FCL, Mode.RAIL, Mode.ROAD}),
}
"""A route is a candidate when its main (longest) mode is allowed; feeder road legs always are."""

# Weights of the balanced preference over normalised criteria.
BALANCED_WEIGHTS = {"cost": 0.35, "time": 0.35, "carbon": 0.2, "risk": 0.1}

HUB_HANDLING_DAYS = 1
"""Added per transfer between legs (cross-docking at the hub)."""
FEU_USABLE_M3 = 58.0
FEU_PAYLOAD_KG = 26_000.0
"""Usable volume and payload of a 40' container (general trade figures), for container counts."""


class LegSpec(BaseModel):
    """A leg a partner may quote: the planner asks for these before planning."""

    partner: str
    mode: Mode
    origin: str
    destination: str


class NoPlan(ValueError):
    """No plan meets the hard constraints; the message lists why each candidate failed."""


def _regions_match(regions: list[str], country: str, on: date, book: RuleBook) -> bool:
    if not regions:
        return True
    try:
        return geo.region_of(country, on, book) in regions
    except geo.UnknownLocation:
        return False


def _route_legs(route: Route, request: ShipmentRequest) -> list[tuple[Route.LegTemplate, str, str]] | None:
    """(template, from, to) per leg; None when a hub is the origin or destination (the direct route covers it)."""
    origin, destination = request.origin.country, request.destination.country
    legs, here = [], origin
    for index, template in enumerate(route.legs):
        last = index == len(route.legs) - 1
        to = destination if last else template.to
        if to is None or (not last and to in (origin, destination)) or to == here:
            return None
        legs.append((template, here, to))
        here = to
    return legs


def candidate_legs(request: ShipmentRequest, book: RuleBook) -> list[LegSpec]:
    """Every (partner, mode, lane) the planner may use for this shipment: what to ask partners to quote.

    Routes the service level does not offer are left out: they are rejected whatever they would cost.
    """
    on, seen, specs = request.ship_date, set(), []
    allowed = MODES_FOR_SERVICE[request.service_level]
    for route in book.table(Route).in_force(on):
        if _main_mode(route) not in allowed:
            continue
        for leg_tuple in _candidate_routes(route, request, book):
            for spec in leg_tuple:
                key = (spec.partner, spec.origin, spec.destination)
                if key not in seen:
                    seen.add(key)
                    specs.append(spec)
    return specs


def _candidate_routes(route: Route, request: ShipmentRequest, book: RuleBook) -> list[tuple[LegSpec, ...]]:
    on = request.ship_date
    if not (_regions_match(route.origin_regions, request.origin.country, on, book)
            and _regions_match(route.destination_regions, request.destination.country, on, book)):
        return []
    legs = _route_legs(route, request)
    if legs is None:
        return []
    options: list[list[LegSpec]] = [[]]
    for template, frm, to in legs:
        if template.mode is Mode.ROAD and not geo.road_connected(frm, to, on, book):
            return []
        carriers = carriers_for(template.mode, frm, to)
        if not carriers:
            return []
        options = [prefix + [LegSpec(partner=c.name, mode=template.mode, origin=frm, destination=to)]
                   for prefix in options for c in carriers]
    return [tuple(option) for option in options]


# ---- pricing --------------------------------------------------------------------------------------------------


def chargeable_weight_kg(request: ShipmentRequest, mode: Mode, book: RuleBook) -> float:
    """max(actual, volume / divisor) summed over parcels; never below the actual weight."""
    row = book.table(VolumetricDivisor).first(request.ship_date, mode=mode)
    actual = request.total_weight_kg
    if row is None:
        return actual
    volumetric = sum(p.length_cm * p.width_cm * p.height_cm for p in request.parcels) / row.divisor_cm3_per_kg
    return round(max(actual, volumetric), 3)


def containers_needed(request: ShipmentRequest) -> int:
    volume_m3 = sum(p.length_cm * p.width_cm * p.height_cm for p in request.parcels) / 1_000_000
    return max(1, math.ceil(volume_m3 / FEU_USABLE_M3), math.ceil(request.total_weight_kg / FEU_PAYLOAD_KG))


def _rate_index(book: RuleBook) -> dict[tuple[Mode, str, str], list[FreightRate]]:
    def build() -> dict[tuple[Mode, str, str], list[FreightRate]]:
        index: dict[tuple[Mode, str, str], list[FreightRate]] = {}
        for row in book.table(FreightRate):
            index.setdefault((row.mode, row.from_region, row.to_region), []).append(row)
            if row.from_region != row.to_region:
                index.setdefault((row.mode, row.to_region, row.from_region), []).append(row)
        return index
    return book.cached("planner.rate_index", build)


def rate_for(mode: Mode, from_region: str, to_region: str, on: date, book: RuleBook) -> FreightRate | None:
    """The most specific rate row in force: exact lane, then one side '*', then '*' to '*'."""
    index = _rate_index(book)
    for key in ((mode, from_region, to_region), (mode, from_region, "*"), (mode, "*", to_region), (mode, "*", "*")):
        for row in index.get(key, ()):
            if row.in_force(on):
                return row
    return None


class _Priced(BaseModel):
    cost: Money
    source: str
    days_min: int
    days_max: int


def _tariff(request: ShipmentRequest, spec: LegSpec, chargeable: float, km: float, book: RuleBook) -> _Priced | str:
    on = request.ship_date
    try:
        rate = rate_for(spec.mode, geo.region_of(spec.origin, on, book), geo.region_of(spec.destination, on, book),
                        on, book)
    except geo.UnknownLocation as err:
        return f"no location data for {err}"
    if rate is None:
        return f"no {spec.mode} rate for {spec.origin}-{spec.destination} on {on}"
    if rate.basis == "per_container":
        n = containers_needed(request)
        amount, unit = rate.base + rate.rate * n, f"{n} x FEU"
    elif rate.basis == "per_tkm":
        amount, unit = rate.base + rate.rate * Decimal(str(chargeable / 1000 * km)), f"{chargeable:g} kg x {km:.0f} km"
    else:
        amount, unit = rate.base + rate.rate * Decimal(str(chargeable)), f"{chargeable:g} kg"
    extra = math.ceil(km / rate.km_per_day) if rate.km_per_day else 0
    return _Priced(cost=Money(amount=amount.quantize(Decimal("0.01")), currency=rate.currency),
                   source=f"rate table ({unit}): {rate.cite()}",
                   days_min=rate.days_min + extra, days_max=rate.days_max + extra)


def _price(request: ShipmentRequest, spec: LegSpec, chargeable: float, km: float,
           quotes: Mapping[tuple[str, str, str], Quote], book: RuleBook) -> _Priced | str:
    quote = quotes.get((spec.partner, spec.origin, spec.destination))
    # A carrier's ocean quote is LCL (weight or measure); FCL is priced per container from the rate table.
    if quote is not None and spec.mode is not Mode.OCEAN_FCL:
        return _Priced(cost=Money(amount=quote.amount, currency=quote.currency), source=f"quote {quote.quote_id}",
                       days_min=quote.transit_days_min, days_max=quote.transit_days_max)
    return _tariff(request, spec, chargeable, km, book)


# ---- building and checking plans ----------------------------------------------------------------------------


def _build(request: ShipmentRequest, route: Route, specs: tuple[LegSpec, ...], book: RuleBook,
           quotes: Mapping[tuple[str, str, str], Quote], dg: DgAssessment,
           excluded: frozenset[str]) -> TransportPlan | RejectedPlan:
    on = request.ship_date
    hubs = [spec.destination for spec in specs[:-1]]
    plan_id = (f"{'+'.join(s.mode.value for s in specs)}:{'>'.join(s.partner for s in specs)}"
               + (f"@{','.join(hubs)}" if hubs else ""))
    problems: list[str] = []
    legs: list[Leg] = []
    mass_t = request.total_weight_kg / 1000
    for seq, (spec, template) in enumerate(zip(specs, route.legs)):
        partner: PartnerInfo = PARTNERS[spec.partner]
        if spec.partner in excluded:
            problems.append(f"{spec.partner} is excluded (failed for this shipment)")
        why = leg_allowed(dg, spec.mode, partner.aircraft)
        if why:
            problems.append(f"leg {seq + 1} ({spec.mode} with {spec.partner}): {why}")
        for country in [*template.via, *([spec.destination] if seq < len(specs) - 1 else [])]:
            blocked = transit_block(country, on, book)
            if blocked:
                problems.append(f"leg {seq + 1} passes through {country}: {blocked}")
            if country in request.exclude_countries:
                problems.append(f"leg {seq + 1} passes through {country}, which the merchant excludes")
        for index, parcel in enumerate(request.parcels):
            if partner.max_parcel_kg is not None and parcel.weight_kg > partner.max_parcel_kg:
                problems.append(f"parcels[{index}]: {parcel.weight_kg} kg is above {spec.partner}'s "
                                f"{partner.max_parcel_kg} kg limit")
            longest = max(parcel.length_cm, parcel.width_cm, parcel.height_cm)
            if partner.max_parcel_length_cm is not None and longest > partner.max_parcel_length_cm:
                problems.append(f"parcels[{index}]: {longest} cm is above {spec.partner}'s "
                                f"{partner.max_parcel_length_cm} cm length limit")
        try:
            km, basis = geo.distance_km(spec.mode, spec.origin, spec.destination, on, book)
        except geo.UnknownLocation as err:
            problems.append(f"no location data for {err}")
            continue
        chargeable = chargeable_weight_kg(request, spec.mode, book)
        priced = _price(request, spec, chargeable, km, quotes, book)
        if isinstance(priced, str):
            problems.append(priced)
            continue
        emission = carbon.leg_emission(spec.mode, partner.aircraft if spec.mode.is_air else None, km, basis,
                                       mass_t, on, book)
        legs.append(Leg(seq=seq, mode=spec.mode, partner=spec.partner, origin=spec.origin,
                        destination=spec.destination, via=list(template.via),
                        aircraft=partner.aircraft if spec.mode.is_air else None, chargeable_weight_kg=chargeable,
                        cost=priced.cost, cost_source=priced.source, transit_days_min=priced.days_min,
                        transit_days_max=priced.days_max, emission=emission))
    if problems:
        return RejectedPlan(plan_id=plan_id, reasons=problems)
    return _total(request, plan_id, legs, book)


def _total(request: ShipmentRequest, plan_id: str, legs: list[Leg], book: RuleBook) -> TransportPlan | RejectedPlan:
    on, currency = request.ship_date, request.currency
    total, reasons = Decimal("0"), []
    for leg in legs:
        try:
            amount, how = convert(leg.cost.amount, leg.cost.currency, currency, on, book)
        except FxUnavailable as err:
            return RejectedPlan(plan_id=plan_id, reasons=[str(err)])
        total += amount
        if leg.cost.currency != currency:
            reasons.append(how)
    hits = [risk.lane_risks(leg.origin, leg.destination, [leg.mode], leg.via, on, book) for leg in legs]
    all_hits = {hit.risk_id: hit for assessment in hits for hit in assessment.hits}
    score = round(1 - math.prod(1 - hit.score for hit in all_hits.values()), 3)
    extra_days = sum(hit.extra_transit_days for hit in all_hits.values())
    transfers = (len(legs) - 1) * HUB_HANDLING_DAYS
    days_min = sum(leg.transit_days_min for leg in legs) + transfers + extra_days
    days_max = sum(leg.transit_days_max for leg in legs) + transfers + extra_days
    co2e = round(sum(leg.emission.co2e_kg for leg in legs), 3)
    risk_assessment = RiskAssessment(score=score, hits=list(all_hits.values()),
                                     reasons=[r for assessment in hits for r in assessment.reasons])
    if extra_days:
        reasons.append(f"+{extra_days} days for risks: {', '.join(all_hits)}")
    return TransportPlan(plan_id=plan_id, legs=legs, cost=Money(amount=total.quantize(Decimal("0.01")),
                                                                  currency=currency),
                         transit_days_min=days_min, transit_days_max=days_max, co2e_kg=co2e,
                         risk=risk_assessment, reasons=reasons)


def _main_mode(route: Route) -> Mode:
    """The mode that carries the goods the longest way: the first non-road leg (road legs feed hubs)."""
    non_road = [leg.mode for leg in route.legs if leg.mode is not Mode.ROAD]
    return non_road[0] if non_road else Mode.ROAD


# ---- choosing -------------------------------------------------------------------------------------------------


def criteria(plan: TransportPlan) -> tuple[float, float, float, float]:
    """(cost, days, CO2e, risk): lower is better on each."""
    return float(plan.cost.amount), float(plan.transit_days_max), plan.co2e_kg, plan.risk.score


def dominates(a: TransportPlan, b: TransportPlan) -> bool:
    ca, cb = criteria(a), criteria(b)
    return all(x <= y for x, y in zip(ca, cb)) and any(x < y for x, y in zip(ca, cb))


def pareto_set(plans: list[TransportPlan]) -> list[TransportPlan]:
    """Plans no other plan beats on cost, time, CO2e and risk at once."""
    return [p for p in plans if not any(dominates(other, p) for other in plans if other is not p)]


def _normalised(values: list[float]) -> list[float]:
    low, high = min(values), max(values)
    return [0.0 if high == low else (v - low) / (high - low) for v in values]


def rank(plans: list[TransportPlan], preference: Preference) -> list[TransportPlan]:
    """Plans best first: the preference's criterion first, the others as tie-breakers (compared as tuples)."""
    if not plans:
        return []
    cost, time, co2, rsk = (list(column) for column in zip(*(criteria(p) for p in plans)))
    keys: list[tuple[float, ...]]
    if preference is Preference.CHEAPEST:
        keys = list(zip(cost, time, co2, rsk))
    elif preference is Preference.FASTEST:
        keys = list(zip(time, cost, rsk, co2))
    elif preference is Preference.GREENEST:
        keys = list(zip(co2, cost, time, rsk))
    else:
        w = BALANCED_WEIGHTS
        score = [w["cost"] * c + w["time"] * t + w["carbon"] * g + w["risk"] * r
                 for c, t, g, r in zip(_normalised(cost), _normalised(time), _normalised(co2), _normalised(rsk))]
        keys = [(round(s, 9), c, t) for s, c, t in zip(score, cost, time)]
    order = sorted(range(len(plans)), key=lambda i: (keys[i], plans[i].plan_id))
    return [plans[i] for i in order]


def plan_shipment(request: ShipmentRequest, book: RuleBook, dg: DgAssessment, *,
                  quotes: Iterable[Quote] = (), declined: Mapping[str, str] | None = None,
                  exclude_partners: Iterable[str] = (), last_mile_days: int = 0) -> PlanSet:
    """Every candidate plan checked against the hard constraints, ranked for the preference.

    Args:
        request: The shipment.
        book: Rule tables (routes, rates, divisors, locations, emission factors, risks, sanctions).
        dg: The dangerous-goods assessment; legs the goods may not take are rejected.
        quotes: Partner quotes, keyed by their partner and lane (`Quote.origin`, `Quote.destination`).
        declined: Partner-lane (`partner:origin-destination`) to the reason the partner declined to quote.
        exclude_partners: Partners that failed for good on this shipment (backup planning).
        last_mile_days: Days the last mile adds, for the deliver-by check.
    """
    on = request.ship_date
    declined = dict(declined or {})
    excluded = frozenset(exclude_partners)
    by_lane = {(q.partner, q.origin or request.origin.country, q.destination or request.destination.country): q
               for q in quotes}
    allowed = MODES_FOR_SERVICE[request.service_level]
    feasible: list[TransportPlan] = []
    rejected: list[RejectedPlan] = []
    for route in book.table(Route).in_force(on):
        main = _main_mode(route)
        # Every reason a candidate fails is kept (service level, goods, limits, deadline), so "why not air?" has
        # the whole answer.
        policy = [] if main in allowed else [f"{main} is not offered for {request.service_level} service"]
        for specs in _candidate_routes(route, request, book):
            built = _build(request, route, specs, book, by_lane, dg, excluded)
            if isinstance(built, RejectedPlan):
                rejected.append(RejectedPlan(plan_id=built.plan_id, reasons=[*policy, *built.reasons]))
                continue
            problems = [*policy, *(f"{spec.partner} declined {spec.origin}-{spec.destination}: {why}"
                                   for spec in specs
                                   if (why := declined.get(f"{spec.partner}:{spec.origin}-{spec.destination}")))]
            if request.deliver_by is not None:
                latest = on + timedelta(days=built.transit_days_max + last_mile_days)
                if latest > request.deliver_by:
                    problems.append(f"arrives by {latest} at the latest, after deliver_by {request.deliver_by}")
            if problems:
                rejected.append(RejectedPlan(plan_id=built.plan_id, reasons=problems))
            else:
                feasible.append(built)
    ranked = rank(feasible, request.preference)
    if not ranked:
        return PlanSet(chosen=None, rejected=rejected,
                       reasons=[f"no plan meets the hard constraints ({len(rejected)} candidates rejected)"])
    chosen = ranked[0]
    front = pareto_set(ranked)
    reasons = [
        f"preference {request.preference}: {chosen.plan_id} at {chosen.cost.amount} {chosen.cost.currency}, "
        f"{chosen.transit_days_min}-{chosen.transit_days_max} days, {chosen.co2e_kg:.1f} kg CO2e, "
        f"risk {chosen.risk.score:.2f}",
        f"{len(feasible)} feasible plans, {len(front)} on the Pareto front, {len(rejected)} rejected",
    ]
    if excluded:
        reasons.append(f"excluded after failures: {', '.join(sorted(excluded))}")
    return PlanSet(chosen=chosen, alternatives=[p for p in front if p is not chosen], ranked=ranked,
                   rejected=rejected, reasons=reasons)
