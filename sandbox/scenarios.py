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
                "bluewave": _delayed(TRANSIT_SCENARIOS["bluewave"], "VESSEL_DELAYED", "Vessel delayed", 12),
                "aerocargo": _delayed(TRANSIT_SCENARIOS["aerocargo"], "DIS", "Discrepancy, offloaded", 6),
                "roadlink": _delayed(TRANSIT_SCENARIOS["roadlink"], "DELAYED", "Truck delayed at border", 5),
            }
        ),
        "customs_hold": MappingProxyType(
            {
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


class CarrierStep(TrackingStep):
    """A step of a published carrier API's scenario, in that carrier's own vocabulary.

    ``code`` is the carrier's event code and ``location`` is a country template (``{origin}`` or
    ``{destination}``); the emulator renders both in the carrier's format.
    """

    status_type: str = ""
    """The carrier's coarser status class where it has one (UPS activity ``status.type``: P, I, X, D)."""
    leg_end: bool = False
    """The event that ends the carrier's leg in Tradelane: arrival at the destination facility for the express
    carriers (Tradelane's last-mile partner delivers from there), delivery for a last-mile courier."""


def _carrier_steps(*rows: tuple[float, str, str, str, str, bool]) -> tuple[CarrierStep, ...]:
    return tuple(
        CarrierStep(day_offset=d, code=c, status_type=t, location=loc, description=desc, leg_end=end)
        for d, c, t, loc, desc, end in rows
    )


CARRIER_API_SCENARIOS: Mapping[str, tuple[CarrierStep, ...]] = MappingProxyType(
    {
        "ups": _carrier_steps(
            (0, "MP", "M", "{origin}", "Shipper created a label, UPS has not received the package yet.", False),
            (0.25, "PU", "P", "{origin}", "Pickup Scan", False),
            (0.5, "DP", "I", "{origin}", "Departed from Facility", False),
            (1.5, "CR", "I", "{destination}", "Your package was released by the clearing agency.", False),
            (2, "AF", "I", "{destination}", "Arrived at Facility (destination)", True),
        ),
        "dhl_express": _carrier_steps(
            (0, "PU", "", "{origin}", "Shipment picked up", False),
            (0.5, "DF", "", "{origin}", "Departed Facility", False),
            (1.5, "CR", "", "{destination}", "Clearance processing complete", False),
            (2, "AR", "", "{destination}", "Arrived at Delivery Facility", True),
        ),
        "fedex": _carrier_steps(
            (0, "OC", "", "{origin}", "Shipment information sent to FedEx", False),
            (0.25, "PU", "", "{origin}", "Picked up", False),
            (0.5, "DP", "", "{origin}", "Left FedEx origin facility", False),
            (1.5, "CC", "", "{destination}", "International shipment release - Import", False),
            (2, "FD", "", "{destination}", "At FedEx destination facility", True),
        ),
        "roadie": _carrier_steps(
            (0, "pickup_confirmed", "", "{destination} {postal_code}", "Pickup confirmed", False),
            (0.25, "en_route_to_delivery", "", "{destination} {postal_code}", "En route to delivery", False),
            (0.5, "delivery_confirmed", "", "{destination} {postal_code}", "Delivery confirmed", True),
        ),
    }
)
"""Events of the partners whose published API `sandbox.emulators` speaks, by partner name. Their codes are the
carriers' own, which Karrio's tables map (not Tradelane's `TRACKING_CODES`, which covers the invented partners)."""


def _attempt_failed(steps: tuple[CarrierStep, ...], failed: str, description: str) -> tuple[CarrierStep, ...]:
    # The courier finds nobody home, goes back on the road the next day and delivers then.
    *head, out, delivered = steps
    return (*head, out,
            out.model_copy(update={"day_offset": out.day_offset + 0.1, "code": failed, "description": description}),
            out.model_copy(update={"day_offset": out.day_offset + 1}),
            delivered.model_copy(update={"day_offset": delivered.day_offset + 1}))


def _carrier_delayed(steps: tuple[CarrierStep, ...], after: str, code: str, status_type: str, description: str,
                     days: float) -> tuple[CarrierStep, ...]:
    # The carrier reports a delay in its own exception code after event `after` (the departure from the origin);
    # everything later comes `days` later than planned.
    departed = next(i for i, step in enumerate(steps) if step.code == after)
    at = steps[departed].day_offset + 0.25
    late = tuple(step.model_copy(update={"day_offset": step.day_offset + days}) for step in steps[departed + 1:])
    return (*steps[:departed + 1],
            CarrierStep(day_offset=at, code=code, status_type=status_type, location=steps[departed].location,
                        description=description),
            *late)


CARRIER_API_VARIANTS: Mapping[str, Mapping[str, tuple[CarrierStep, ...]]] = MappingProxyType(
    {
        "stalled": MappingProxyType({name: steps[:2] for name, steps in CARRIER_API_SCENARIOS.items()}),
        # A missed connection, in each express carrier's own exception vocabulary (Karrio reads UPS's exception
        # type X as on hold, DHL's TD as a delivery delay, FedEx's SE as a shipment exception).
        "delayed": MappingProxyType({
            "ups": _carrier_delayed(CARRIER_API_SCENARIOS["ups"], "DP", "WE", "X",
                                    "Flight delayed by severe weather; the package missed its connection", 12),
            "dhl_express": _carrier_delayed(CARRIER_API_SCENARIOS["dhl_express"], "DF", "TD", "",
                                            "Transport delay: missed connection, on the next available flight", 12),
            "fedex": _carrier_delayed(CARRIER_API_SCENARIOS["fedex"], "DP", "SE", "",
                                      "Shipment exception: missed connection at the hub", 12),
        }),
        "failed_attempt": MappingProxyType(
            {"roadie": _attempt_failed(CARRIER_API_SCENARIOS["roadie"], "delivery_attempted",
                                       "Delivery attempted, recipient not available")}
        ),
    }
)
"""Variants of `CARRIER_API_SCENARIOS`, chosen like `SCENARIO_VARIANTS` by a ``kind: scenario`` fault rule."""


def carrier_api_steps(partner: str, variant: str | None) -> tuple[CarrierStep, ...]:
    """The steps an emulated carrier plays: the named variant when it has one, else its normal scenario."""
    if variant is not None and partner in CARRIER_API_VARIANTS.get(variant, {}):
        return CARRIER_API_VARIANTS[variant][partner]
    return CARRIER_API_SCENARIOS[partner]


class DcsaStep(BaseModel):
    """One DCSA Track & Trace 2.2 event of an ocean voyage, as the DCSA emulator (`sandbox.emulators.dcsa`) emits it.

    ``place`` is where it happens: ``pol`` and ``pod`` are the booking's ports of loading and discharge,
    ``transshipment`` the voyage's hub (`DCSA_TRANSSHIPMENT_PORT`). Shipment events name the document they are
    about (``document``: ``BKG`` the booking, ``TRD`` the transport document, ``CUS`` a customs inspection).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    day_offset: float
    event_type: str
    """``TRANSPORT``, ``EQUIPMENT`` or ``SHIPMENT``."""
    code: str
    place: str
    document: str | None = None
    empty: bool = False
    """Equipment events: whether the container is empty (``emptyIndicatorCode``)."""
    reason: str | None = None


def _dcsa(*rows: tuple[float, str, str, str] | tuple[float, str, str, str, str]) -> tuple[DcsaStep, ...]:
    steps = []
    for day, kind, code, place, *extra in rows:
        detail = extra[0] if extra else None
        steps.append(DcsaStep(
            day_offset=day, event_type=kind, code=code, place=place,
            document=detail if kind == "SHIPMENT" else None, empty=detail == "EMPTY",
        ))
    return tuple(steps)


DCSA_TRANSSHIPMENT_PORT = "SGSIN"
"""Where the sandbox's DCSA voyages change vessel (Singapore)."""

DCSA_SCENARIOS: Mapping[str, tuple[DcsaStep, ...]] = MappingProxyType(
    {
        # An LCL voyage with one transshipment: cargo stuffed at the origin CFS, the container gated in and loaded,
        # two vessel legs, discharged, stripped at the destination CFS and released. Day 0 is confirmation.
        "bluewave_dcsa": _dcsa(
            (0.5, "EQUIPMENT", "STUF", "pol"),
            (1, "EQUIPMENT", "GTIN", "pol"),
            (1.5, "SHIPMENT", "ISSU", "pol", "TRD"),
            (2, "EQUIPMENT", "LOAD", "pol"),
            (2.5, "TRANSPORT", "DEPA", "pol"),
            (9, "TRANSPORT", "ARRI", "transshipment"),
            (9.5, "EQUIPMENT", "DISC", "transshipment"),
            (11, "EQUIPMENT", "LOAD", "transshipment"),
            (11.5, "TRANSPORT", "DEPA", "transshipment"),
            (20, "TRANSPORT", "ARRI", "pod"),
            (20.5, "EQUIPMENT", "DISC", "pod"),
            (21, "EQUIPMENT", "STRP", "pod"),
            (21.5, "SHIPMENT", "RELS", "pod", "SRM"),
        ),
    }
)
"""DCSA voyages by scenario name; a DCSA partner plays ``{partner}_dcsa``."""


def _dcsa_customs_hold(steps: tuple[DcsaStep, ...], days: float) -> tuple[DcsaStep, ...]:
    # Destination customs hold the cargo after discharge for `days`: HOLD on a customs inspection, an inspection of
    # the container, a release, then the rest `days` later.
    discharged = next(i for i, s in enumerate(steps) if s.code == "DISC" and s.place == "pod")
    at = steps[discharged].day_offset
    late = tuple(s.model_copy(update={"day_offset": s.day_offset + days}) for s in steps[discharged + 1:])
    return (*steps[:discharged + 1],
            DcsaStep(day_offset=at + 0.25, event_type="SHIPMENT", code="HOLD", place="pod", document="CUS",
                     reason="Held by customs for inspection"),
            DcsaStep(day_offset=at + days / 2, event_type="EQUIPMENT", code="INSP", place="pod"),
            DcsaStep(day_offset=at + days, event_type="SHIPMENT", code="RELS", place="pod", document="CUS",
                     reason="Released by customs"),
            *late)


DCSA_SCENARIO_VARIANTS: Mapping[str, Mapping[str, tuple[DcsaStep, ...]]] = MappingProxyType(
    {
        "customs_hold": MappingProxyType(
            {"bluewave_dcsa": _dcsa_customs_hold(DCSA_SCENARIOS["bluewave_dcsa"], 4)}
        ),
        "stalled": MappingProxyType(
            {name: steps[:4] for name, steps in DCSA_SCENARIOS.items()}
        ),
    }
)
"""Alternative DCSA voyages, chosen like `SCENARIO_VARIANTS` by a ``kind: scenario`` fault rule."""


def dcsa_steps(partner: str, variant: str | None) -> tuple[DcsaStep, ...]:
    """The DCSA voyage a partner plays: the named variant when it has one, else its normal voyage."""
    name = f"{partner}_dcsa"
    if variant is not None and name in DCSA_SCENARIO_VARIANTS.get(variant, {}):
        return DCSA_SCENARIO_VARIANTS[variant][name]
    return DCSA_SCENARIOS[name]
