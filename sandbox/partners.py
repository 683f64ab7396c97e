"""The sandbox's partner table: who the simulated partners are, what they accept, where they go, what they charge.
Data, not code; their tracking scenarios are in `sandbox.scenarios`.

The partner names are a contract with Tradelane's status-mapping table: change them only together.

All emission factors, prices and transit times here are invented sandbox figures, chosen to
be plausible and easy to check by hand. They are not real market or GLEC values.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict


class PartnerKind(StrEnum):
    """What a partner does, which decides the operations it accepts."""

    CARRIER = "carrier"
    LAST_MILE = "last_mile"
    CUSTOMS_BROKER = "customs_broker"


class Operation(StrEnum):
    """Every partner operation; fault rules name these in their ``operation`` field."""

    QUOTE = "quote"
    BOOK = "book"
    CANCEL = "cancel"
    LABEL = "label"
    VOID = "void"
    HANDOVER = "handover"
    FILE = "file"
    WITHDRAW = "withdraw"
    RELEASE_FILING = "release_filing"
    SCHEDULE = "schedule"
    RELEASE_SLOT = "release_slot"
    TRACK = "track"


OPERATIONS_BY_KIND: Mapping[PartnerKind, frozenset[Operation]] = MappingProxyType(
    {
        PartnerKind.CARRIER: frozenset(
            {
                Operation.QUOTE, Operation.BOOK, Operation.CANCEL, Operation.LABEL,
                Operation.VOID, Operation.HANDOVER, Operation.TRACK,
            }
        ),
        PartnerKind.CUSTOMS_BROKER: frozenset(
            {Operation.FILE, Operation.WITHDRAW, Operation.RELEASE_FILING}
        ),
        PartnerKind.LAST_MILE: frozenset(
            {Operation.SCHEDULE, Operation.RELEASE_SLOT, Operation.TRACK}
        ),
    }
)  # fmt: skip
"""Which operations each kind of partner accepts; anything else is ``OPERATION_NOT_SUPPORTED``."""


class TransportMode(StrEnum):
    """Main-leg transport mode of a carrier."""

    AIR_EXPRESS = "air_express"
    AIR_FREIGHT = "air_freight"
    OCEAN = "ocean"
    RAIL = "rail"
    ROAD = "road"


EU_COUNTRIES: frozenset[str] = frozenset(
    {
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
        "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    }
)  # fmt: skip
"""ISO 3166-1 alpha-2 codes of the 27 EU member states."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Lane(_Frozen):
    """One direction a partner serves; ``None`` on a side means any country."""

    origins: frozenset[str] | None = None
    destinations: frozenset[str] | None = None

    def serves(self, origin: str | None, destination: str) -> bool:
        """Whether this lane covers ``origin`` -> ``destination`` (origin ``None`` = not asked)."""
        origin_ok = self.origins is None or origin is None or origin in self.origins
        return origin_ok and (self.destinations is None or destination in self.destinations)


ANY_LANE = Lane()


class Pricing(_Frozen):
    """Deterministic price formula: ``base + per_kg * chargeable_kg``."""

    base: Decimal
    per_kg: Decimal
    volumetric_divisor: int
    """Chargeable volumetric kg = sum(L*W*H in cm) / divisor."""
    currency: str


class ParcelLimits(_Frozen):
    """Largest single parcel a carrier accepts."""

    max_weight_kg: float
    max_length_cm: float
    """Applies to the longest side of the parcel."""


class TransitDays(_Frozen):
    """Quoted transit time range in days."""

    min: int
    max: int


class TrackingNumberFormat(_Frozen):
    """How a carrier's tracking numbers look: prefix followed by a zero-padded counter."""

    prefix: str
    digits: int

    def render(self, counter: int) -> str:
        """Returns the tracking number for the ``counter``-th label of this carrier."""
        return f"{self.prefix}{counter:0{self.digits}d}"


class CarrierTerms(_Frozen):
    """What a carrier moves, how fast, at what price, and how it numbers its labels."""

    mode: TransportMode
    pricing: Pricing
    transit_days: TransitDays
    limits: ParcelLimits
    tracking_number: TrackingNumberFormat


class LastMileTerms(_Frozen):
    """How a last-mile partner schedules deliveries."""

    slot_window_days: tuple[float, float]
    """Delivery window, in virtual days after the slot is scheduled."""


class Partner(_Frozen):
    """One simulated logistics partner."""

    name: str
    kind: PartnerKind
    lanes: tuple[Lane, ...] = (ANY_LANE,)
    carrier: CarrierTerms | None = None
    """Set for carriers only."""
    last_mile: LastMileTerms | None = None
    """Set for last-mile partners only."""

    @property
    def mode(self) -> TransportMode | None:
        """The carrier's transport mode; None for other kinds."""
        return self.carrier.mode if self.carrier else None

    def serves(self, origin: str | None, destination: str) -> bool:
        """Whether any of the partner's lanes covers ``origin`` -> ``destination``."""
        return any(lane.serves(origin, destination) for lane in self.lanes)

    def carrier_terms(self) -> CarrierTerms:
        """Returns the carrier terms; raises ValueError for a partner that is not a carrier."""
        if self.carrier is None:
            raise ValueError(f"partner {self.name!r} is a {self.kind}, not a carrier")
        return self.carrier

    def last_mile_terms(self) -> LastMileTerms:
        """Returns the last-mile terms; raises ValueError for a partner that is not last-mile."""
        if self.last_mile is None:
            raise ValueError(f"partner {self.name!r} is a {self.kind}, not a last-mile partner")
        return self.last_mile


_CN = frozenset({"CN"})
_EUROPE_ROAD = EU_COUNTRIES - {"CY", "MT"} | {"GB", "CH", "NO", "TR", "RS", "UA", "MD"}
"""Countries the road carrier reaches by truck (ferry and tunnel included for GB)."""
_NORTH_AMERICA = frozenset({"US", "CA", "MX"})
_LAST_MILE_WINDOW = LastMileTerms(slot_window_days=(0.5, 1.5))

PARTNERS: Mapping[str, Partner] = MappingProxyType(
    {
        p.name: p
        for p in (
            Partner(
                name="bluewave",
                kind=PartnerKind.CARRIER,
                carrier=CarrierTerms(
                    mode=TransportMode.OCEAN,
                    pricing=Pricing(
                        base=Decimal("180"), per_kg=Decimal("0.35"), volumetric_divisor=1000, currency="USD"
                    ),
                    transit_days=TransitDays(min=24, max=34),
                    limits=ParcelLimits(max_weight_kg=2000, max_length_cm=1200),
                    tracking_number=TrackingNumberFormat(prefix="BWLU", digits=7),
                ),
            ),
            Partner(
                name="silkrail",
                kind=PartnerKind.CARRIER,
                # Rail runs China <-> EU only, in both directions.
                lanes=(
                    Lane(origins=_CN, destinations=EU_COUNTRIES),
                    Lane(origins=EU_COUNTRIES, destinations=_CN),
                ),
                carrier=CarrierTerms(
                    mode=TransportMode.RAIL,
                    pricing=Pricing(
                        base=Decimal("120"), per_kg=Decimal("1.4"), volumetric_divisor=3000, currency="USD"
                    ),
                    transit_days=TransitDays(min=16, max=20),
                    limits=ParcelLimits(max_weight_kg=1500, max_length_cm=600),
                    tracking_number=TrackingNumberFormat(prefix="SR", digits=9),
                ),
            ),
            Partner(
                name="aerocargo",
                kind=PartnerKind.CARRIER,
                # Air freight in the belly of passenger flights, airport to airport, anywhere.
                carrier=CarrierTerms(
                    mode=TransportMode.AIR_FREIGHT,
                    pricing=Pricing(
                        base=Decimal("60"), per_kg=Decimal("4.2"), volumetric_divisor=6000, currency="USD"
                    ),
                    transit_days=TransitDays(min=4, max=7),
                    limits=ParcelLimits(max_weight_kg=300, max_length_cm=300),
                    tracking_number=TrackingNumberFormat(prefix="176", digits=8),
                ),
            ),
            Partner(
                name="roadlink",
                kind=PartnerKind.CARRIER,
                # Trucks within Europe and within North America.
                lanes=(
                    Lane(origins=_EUROPE_ROAD, destinations=_EUROPE_ROAD),
                    Lane(origins=_NORTH_AMERICA, destinations=_NORTH_AMERICA),
                ),
                carrier=CarrierTerms(
                    mode=TransportMode.ROAD,
                    pricing=Pricing(
                        base=Decimal("40"), per_kg=Decimal("0.45"), volumetric_divisor=4000, currency="USD"
                    ),
                    transit_days=TransitDays(min=2, max=5),
                    limits=ParcelLimits(max_weight_kg=1500, max_length_cm=1360),
                    tracking_number=TrackingNumberFormat(prefix="RL", digits=9),
                ),
            ),
            Partner(
                name="parcelnow",
                kind=PartnerKind.LAST_MILE,
                lanes=(Lane(destinations=EU_COUNTRIES | {"GB", "CH", "NO"}),),
                last_mile=_LAST_MILE_WINDOW,
            ),
            Partner(
                name="doorstep",
                kind=PartnerKind.LAST_MILE,
                lanes=(Lane(destinations=frozenset({"US", "CA", "JP", "AU", "NZ", "SG", "KR", "MX", "BR", "GB",
                                                    "CH"})),),
                last_mile=_LAST_MILE_WINDOW,
            ),
            Partner(name="clearpath", kind=PartnerKind.CUSTOMS_BROKER),
            # Partners with a published API, served by `sandbox.emulators` in their own format. Prices, limits and
            # number formats are invented, shaped like the real ones (UPS 1Z..., DHL 10 digits, FedEx 12 digits).
            Partner(
                name="ups",
                kind=PartnerKind.CARRIER,
                carrier=CarrierTerms(
                    mode=TransportMode.AIR_EXPRESS,
                    pricing=Pricing(
                        base=Decimal("32"), per_kg=Decimal("11.2"), volumetric_divisor=5000, currency="USD"
                    ),
                    transit_days=TransitDays(min=1, max=3),
                    limits=ParcelLimits(max_weight_kg=70, max_length_cm=274),
                    tracking_number=TrackingNumberFormat(prefix="1Z", digits=16),
                ),
            ),
            Partner(
                name="dhl_express",
                kind=PartnerKind.CARRIER,
                carrier=CarrierTerms(
                    mode=TransportMode.AIR_EXPRESS,
                    pricing=Pricing(
                        base=Decimal("35"), per_kg=Decimal("10.8"), volumetric_divisor=5000, currency="USD"
                    ),
                    transit_days=TransitDays(min=1, max=4),
                    limits=ParcelLimits(max_weight_kg=70, max_length_cm=120),
                    tracking_number=TrackingNumberFormat(prefix="", digits=10),
                ),
            ),
            Partner(
                name="fedex",
                kind=PartnerKind.CARRIER,
                carrier=CarrierTerms(
                    mode=TransportMode.AIR_EXPRESS,
                    pricing=Pricing(
                        base=Decimal("30"), per_kg=Decimal("11.5"), volumetric_divisor=5000, currency="USD"
                    ),
                    transit_days=TransitDays(min=1, max=3),
                    limits=ParcelLimits(max_weight_kg=68, max_length_cm=274),
                    tracking_number=TrackingNumberFormat(prefix="7", digits=11),
                ),
            ),
            Partner(
                name="roadie",
                kind=PartnerKind.LAST_MILE,
                lanes=(Lane(origins=frozenset({"US"}), destinations=frozenset({"US"})),),
                last_mile=LastMileTerms(slot_window_days=(0.25, 0.75)),
            ),
        )
    }
)
"""Every partner the sandbox simulates, by name."""


EMISSION_FACTORS_G_PER_TKM: Mapping[TransportMode, int] = MappingProxyType(
    {
        TransportMode.AIR_EXPRESS: 600, TransportMode.AIR_FREIGHT: 600, TransportMode.OCEAN: 15,
        TransportMode.RAIL: 25, TransportMode.ROAD: 80,
    }
)
"""SANDBOX FIGURES, not real factors: grams CO2e per tonne-kilometre by mode."""

SANDBOX_DISTANCE_KM = 10_000
"""SANDBOX FIGURE: every lane is treated as 10,000 km long for the CO2e estimate."""
