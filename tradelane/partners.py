"""Tradelane's partner directory: who moves what, where. Data, so adding a partner is a table row."""

from pydantic import BaseModel

from tradelane.enums import Mode, PartnerKind, ServiceLevel

EU = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)


class PartnerInfo(BaseModel):
    name: str
    kind: PartnerKind
    display_name: str
    mode: Mode | None = None
    serves: frozenset[str] | None = None
    """Destination countries served; None means everywhere."""
    max_parcel_kg: float | None = None
    max_parcel_length_cm: float | None = None


PARTNERS: dict[str, PartnerInfo] = {
    p.name: p
    for p in [
        PartnerInfo(name="skyexpress", kind=PartnerKind.CARRIER, display_name="SkyExpress (air express)",
                    mode=Mode.AIR_EXPRESS, max_parcel_kg=70, max_parcel_length_cm=120),
        PartnerInfo(name="bluewave", kind=PartnerKind.CARRIER, display_name="BlueWave Forwarding (ocean)",
                    mode=Mode.OCEAN, max_parcel_kg=2000, max_parcel_length_cm=1200),
        PartnerInfo(name="silkrail", kind=PartnerKind.CARRIER, display_name="SilkRail (China-Europe rail)",
                    mode=Mode.RAIL, serves=EU | {"CN"}, max_parcel_kg=1500, max_parcel_length_cm=600),
        PartnerInfo(name="parcelnow", kind=PartnerKind.LAST_MILE, display_name="ParcelNow",
                    serves=EU | {"GB", "CH", "NO"}),
        PartnerInfo(name="doorstep", kind=PartnerKind.LAST_MILE, display_name="Doorstep Delivery",
                    serves=frozenset("US CA JP AU NZ SG KR MX BR".split())),
        PartnerInfo(name="clearpath", kind=PartnerKind.CUSTOMS_BROKER, display_name="ClearPath Customs"),
    ]
}

# Modes a service level may use, fastest first.
MODES_FOR_SERVICE: dict[ServiceLevel, tuple[Mode, ...]] = {
    ServiceLevel.EXPRESS: (Mode.AIR_EXPRESS,),
    ServiceLevel.STANDARD: (Mode.AIR_EXPRESS, Mode.RAIL),
    ServiceLevel.ECONOMY: (Mode.RAIL, Mode.OCEAN),
}

CUSTOMS_BROKER = "clearpath"


def serves(partner: PartnerInfo, country: str) -> bool:
    return partner.serves is None or country in partner.serves


def carriers_for(service_level: ServiceLevel, origin: str, destination: str) -> list[PartnerInfo]:
    """Carriers whose mode fits the service level and whose network covers both ends of the lane."""
    modes = MODES_FOR_SERVICE[service_level]
    return [
        p for p in PARTNERS.values()
        if p.kind is PartnerKind.CARRIER and p.mode in modes and serves(p, origin) and serves(p, destination)
    ]


def last_mile_for(destination: str) -> PartnerInfo | None:
    """The first last-mile partner serving the destination country, in table order."""
    for partner in PARTNERS.values():
        if partner.kind is PartnerKind.LAST_MILE and serves(partner, destination):
            return partner
    return None


def kind_of(name: str) -> PartnerKind:
    return PARTNERS[name].kind
