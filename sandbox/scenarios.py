"""The sandbox's tracking scenarios: the events each partner emits, day by day, and their variants. Data, not code.

Tradelane builds its own status-mapping table from the codes below (`TRACKING_CODES`), so the partner names and
tracking codes are a contract: change them only together with Tradelane's table.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict


class TrackingStep(BaseModel):
    """One event of a tracking scenario.

    ``location`` is a template; ``{origin}``, ``{destination}`` and ``{postal_code}`` are filled
    from the booking or slot when the event is emitted.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    day_offset: float
    code: str
    location: str
    description: str


def _steps(*rows: tuple[float, str, str, str]) -> tuple[TrackingStep, ...]:
    return tuple(
        TrackingStep(day_offset=d, code=c, location=loc, description=desc) for d, c, loc, desc in rows
    )


TRANSIT_SCENARIOS: Mapping[str, tuple[TrackingStep, ...]] = MappingProxyType(
    {
        "skyexpress": _steps(
            (0, "PU", "Origin city, {origin}", "Picked up"),
            (0.5, "DF", "Origin hub, {origin}", "Departed facility"),
            (1.5, "AF", "Destination hub, {destination}", "Arrived at facility"),
            (2, "CC", "Destination hub, {destination}", "Customs cleared"),
            (2.5, "AD", "Destination hub, {destination}", "Arrived at destination hub"),
        ),
        "bluewave": _steps(
            (0, "GATE_IN", "Origin port, {origin}", "Gated in at origin terminal"),
            (1, "LOADED", "Origin port, {origin}", "Loaded on vessel"),
            (2, "VESSEL_DEPARTED", "Origin port, {origin}", "Vessel departed"),
            (10, "TRANSSHIPMENT", "Transshipment hub", "Transshipment"),
            (20, "VESSEL_ARRIVED", "Destination port, {destination}", "Vessel arrived"),
            (21, "DISCHARGED", "Destination port, {destination}", "Discharged from vessel"),
            (22, "AVAILABLE", "Destination port, {destination}", "Available for delivery"),
        ),
        "silkrail": _steps(
            (0, "RECEIVED", "Origin rail terminal, {origin}", "Received at terminal"),
            (1, "TRAIN_DEPARTED", "Origin rail terminal, {origin}", "Train departed"),
            (8, "BORDER_CROSSED", "Border crossing", "Border crossed"),
            (16, "TRAIN_ARRIVED", "Destination rail terminal, {destination}", "Train arrived"),
            (17, "READY_FOR_HANDOVER", "Destination rail terminal, {destination}", "Ready for handover"),
        ),
        "aerocargo": _steps(
            (0, "RCS", "Origin airport, {origin}", "Received from shipper"),
            (0.5, "DEP", "Origin airport, {origin}", "Departed on flight"),
            (2, "ARR", "Destination airport, {destination}", "Arrived on flight"),
            (2.5, "NFD", "Destination airport, {destination}", "Ready for pick-up (notified)"),
        ),
        "roadlink": _steps(
            (0, "COLLECTED", "Origin depot, {origin}", "Collected"),
            (0.5, "LINEHAUL", "On the road", "Line haul departed"),
            (2, "ARRIVED_HUB", "Destination depot, {destination}", "Arrived at destination depot"),
        ),
    }
)
"""Main-leg events a carrier emits after handover, by carrier name."""

LAST_MILE_SCENARIOS: Mapping[str, tuple[TrackingStep, ...]] = MappingProxyType(
    {
        "parcelnow": _steps(
            (0, "SORTED", "Depot, {destination} {postal_code}", "Sorted at depot"),
            (0.5, "OUT_FOR_DELIVERY", "Depot, {destination} {postal_code}", "Out for delivery"),
            (1, "DELIVERED", "{destination} {postal_code}", "Delivered"),
        ),
        "doorstep": _steps(
            (0, "RECEIVED_AT_DEPOT", "Depot, {destination} {postal_code}", "Received at depot"),
            (0.5, "ON_VEHICLE", "Depot, {destination} {postal_code}", "On delivery vehicle"),
            (1, "POD", "{destination} {postal_code}", "Delivered, proof of delivery captured"),
        ),
    }
)
"""Delivery events a last-mile partner emits after a slot is scheduled, by partner name."""


def _stalled(steps: tuple[TrackingStep, ...]) -> tuple[TrackingStep, ...]:
    # The partner goes quiet after its first two events: the goods never arrive (until someone pushes events).
    return steps[:2]


def _delayed(steps: tuple[TrackingStep, ...], code: str, description: str, days: float) -> tuple[TrackingStep, ...]:
    # An exception event halfway, after which every later event comes `days` later than planned.
    half = len(steps) // 2
    at = steps[half - 1].day_offset + 0.25
    late = tuple(step.model_copy(update={"day_offset": step.day_offset + days}) for step in steps[half:])
    return (*steps[:half], TrackingStep(day_offset=at, code=code, location=steps[half - 1].location,
                                        description=description), *late)


def _held(steps: tuple[TrackingStep, ...], hold: str, release: str, days: float) -> tuple[TrackingStep, ...]:
    # Held at customs before the final event for `days`, then released.
    *head, last = (step for step in steps if step.code != release)
    at = last.day_offset
    return (*head,
            TrackingStep(day_offset=at, code=hold, location=last.location, description="Held by customs"),
            TrackingStep(day_offset=at + days, code=release, location=last.location, description="Released by customs"),
            last.model_copy(update={"day_offset": at + days + 0.25}))


def _missed(steps: tuple[TrackingStep, ...], failed: str) -> tuple[TrackingStep, ...]:
    # One failed delivery attempt (nobody home), then a second attempt the next day that succeeds.
    depot, out, delivered = steps
    return (depot, out,
            TrackingStep(day_offset=out.day_offset + 0.25, code=failed, location=out.location,
                         description="Delivery attempted, recipient not at home"),
            out.model_copy(update={"day_offset": out.day_offset + 1}),
            delivered.model_copy(update={"day_offset": delivered.day_offset + 1}))


SCENARIO_VARIANTS: Mapping[str, Mapping[str, tuple[TrackingStep, ...]]] = MappingProxyType(
    {
        "stalled": MappingProxyType(
            {name: _stalled(steps) for name, steps in (*TRANSIT_SCENARIOS.items(), *LAST_MILE_SCENARIOS.items())}
        ),
        "delayed": MappingProxyType(
            {
                "skyexpress": _delayed(TRANSIT_SCENARIOS["skyexpress"], "EX", "Missed connection, goods offloaded", 12),
                "bluewave": _delayed(TRANSIT_SCENARIOS["bluewave"], "VESSEL_DELAYED", "Vessel delayed", 12),
                "aerocargo": _delayed(TRANSIT_SCENARIOS["aerocargo"], "DIS", "Discrepancy, offloaded", 6),
                "roadlink": _delayed(TRANSIT_SCENARIOS["roadlink"], "DELAYED", "Truck delayed at border", 5),
            }
        ),
        "customs_hold": MappingProxyType(
            {
                "skyexpress": _held(TRANSIT_SCENARIOS["skyexpress"], "CH", "CC", 3),
                "bluewave": _held(TRANSIT_SCENARIOS["bluewave"], "CUSTOMS_HOLD", "CUSTOMS_RELEASED", 4),
            }
        ),
        "failed_attempt": MappingProxyType(
            {
                "parcelnow": _missed(LAST_MILE_SCENARIOS["parcelnow"], "NOT_HOME"),
                "doorstep": _missed(LAST_MILE_SCENARIOS["doorstep"], "ATTEMPT_FAILED"),
            }
        ),
    }
)
"""Alternative scenarios, chosen per call by a ``kind: scenario`` fault rule: name -> partner -> steps."""


def scenario_steps(partner: str, variant: str | None, default: Mapping[str, tuple[TrackingStep, ...]]
                   ) -> tuple[TrackingStep, ...]:
    """The steps a partner plays: the named variant when it has one, else its normal scenario."""
    if variant is not None and partner in SCENARIO_VARIANTS.get(variant, {}):
        return SCENARIO_VARIANTS[variant][partner]
    return default[partner]


TRACKING_CODES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        name: tuple(dict.fromkeys(
            step.code
            for steps in (steps, *(variant.get(name, ()) for variant in SCENARIO_VARIANTS.values()))
            for step in steps
        ))
        for name, steps in (*TRANSIT_SCENARIOS.items(), *LAST_MILE_SCENARIOS.items())
    }
)
"""Every tracking code each partner can emit, normal scenario first (for Tradelane's mapping table)."""
