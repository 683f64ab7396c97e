"""The states and codes of a shipment. Partner-specific codes map to these through data tables."""

from enum import StrEnum


class Stage(StrEnum):
    """Where a shipment is in its lifecycle, in order."""

    BOOKING = "booking"
    PACKAGING_CHECK = "packaging_check"
    CUSTOMS_FILING = "customs_filing"
    TRANSIT = "transit"
    LAST_MILE = "last_mile"


class Status(StrEnum):
    """How a shipment is doing. `delivered`, `compensated`, `rejected` and `cancelled` are terminal."""

    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    DELIVERED = "delivered"
    COMPENSATED = "compensated"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    DELAYED = "delayed"
    """Moving, with an open exception (stalled, late, held at customs, failed delivery attempt)."""

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = {Status.DELIVERED, Status.COMPENSATED, Status.REJECTED, Status.CANCELLED}


class Mode(StrEnum):
    """How one leg moves. `ocean` is a carrier's generic sea quote; plans say FCL or LCL."""

    AIR_EXPRESS = "air_express"
    AIR_FREIGHT = "air_freight"
    OCEAN = "ocean"
    OCEAN_FCL = "ocean_fcl"
    OCEAN_LCL = "ocean_lcl"
    RAIL = "rail"
    ROAD = "road"

    @property
    def is_air(self) -> bool:
        return self in (Mode.AIR_EXPRESS, Mode.AIR_FREIGHT)

    @property
    def is_sea(self) -> bool:
        return self in (Mode.OCEAN, Mode.OCEAN_FCL, Mode.OCEAN_LCL)


class Aircraft(StrEnum):
    """Which aircraft an air leg flies on; dangerous-goods rules differ."""

    PASSENGER = "passenger"
    """Belly cargo of passenger flights (most air freight)."""
    CARGO = "cargo"
    """Freighters only (express integrators' networks, cargo-aircraft-only goods)."""


class DeliveryMethod(StrEnum):
    """How the last mile hands the parcel to the recipient."""

    HOME = "home"
    PICKUP_POINT = "pickup_point"
    LOCKER = "locker"


class ServiceLevel(StrEnum):
    ECONOMY = "economy"
    STANDARD = "standard"
    EXPRESS = "express"


class Preference(StrEnum):
    CHEAPEST = "cheapest"
    FASTEST = "fastest"
    GREENEST = "greenest"
    BALANCED = "balanced"


class Incoterm(StrEnum):
    DAP = "DAP"
    DDP = "DDP"


class Packaging(StrEnum):
    CARTON = "carton"
    ENVELOPE = "envelope"
    POLYBAG = "polybag"
    WOOD_PALLET = "wood_pallet"
    WOOD_CRATE = "wood_crate"
    PLASTIC_PALLET = "plastic_pallet"


class PartnerKind(StrEnum):
    CARRIER = "carrier"
    LAST_MILE = "last_mile"
    CUSTOMS_BROKER = "customs_broker"


class GateKind(StrEnum):
    """Points where a person must decide before the shipment goes on."""

    HIGH_VALUE = "high_value"
    """Declared value above the approval threshold, decided before anything is booked."""
    CUSTOMS_HOLD = "customs_hold"
    """The customs broker held the filing; ops release it or give up the shipment."""
    STAGE_OVERDUE = "stage_overdue"
    """A stage ran past its time limit; ops keep waiting or give up the shipment."""
    COMPLIANCE = "compliance"
    """The compliance check found something a person must clear (a possible denied party, a licence) before booking."""
    PACKAGING = "packaging"
    """The parcels break a packaging or marking rule; ops record the fix, or give up the shipment."""


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class TrackingStatus(StrEnum):
    """One normalised vocabulary for every partner's tracking codes."""

    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    CUSTOMS_CLEARED = "customs_cleared"
    ARRIVED_AT_DESTINATION = "arrived_at_destination"
    AT_LOCAL_DEPOT = "at_local_depot"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    CUSTOMS_HOLD = "customs_hold"
    """Customs (or the carrier for customs) holds the goods: documents, inspection, duties unpaid."""
    DELIVERY_FAILED = "delivery_failed"
    """A delivery attempt failed (nobody home, address problem, refused); usually re-attempted."""
    EXCEPTION = "exception"
    """The partner reports a problem (damage, delay, missed connection) without a more specific code."""
    UNKNOWN = "unknown"


class ExceptionKind(StrEnum):
    """Problems Tradelane detects on a moving shipment (each raises an exception record)."""

    STALLED = "stalled"
    """No tracking event for longer than the configured time."""
    LATE = "late"
    """The ETA slipped past the date promised to the customer."""
    CUSTOMS_HOLD = "customs_hold"
    """Held at customs longer than the configured threshold."""
    DELIVERY_FAILED = "delivery_failed"
    """A delivery attempt failed."""
    CARRIER_EXCEPTION = "carrier_exception"
    """The partner reported an exception event."""


class NoticeKind(StrEnum):
    """Customer (and merchant) notifications of a shipment, in lifecycle order."""

    BOOKED = "booked"
    SHIPPED = "shipped"
    CUSTOMS_CLEARED = "customs_cleared"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    DELAYED = "delayed"
    EXCEPTION = "exception"
    COMPENSATED = "compensated"
    """The shipment ended without delivery after a failure; what was booked is undone."""
    REJECTED = "rejected"
    """The shipment was refused (compliance, stock, no plan, an ops rejection) and will not ship."""
    CANCELLED = "cancelled"
    """Ops or the merchant cancelled the shipment; what was booked is undone."""


class PackingConfiguration(StrEnum):
    """How lithium cells or batteries travel, as IATA's packing instructions split them."""

    STANDALONE = "standalone"
    """Cells or batteries on their own: UN3480 (PI 965), UN3090 (PI 968)."""
    PACKED_WITH_EQUIPMENT = "packed_with_equipment"
    """In the same package as the equipment they power, not installed: UN3481 (PI 966), UN3091 (PI 969)."""
    CONTAINED_IN_EQUIPMENT = "contained_in_equipment"
    """Installed in the equipment: UN3481 (PI 967), UN3091 (PI 970)."""
