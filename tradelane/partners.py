"""Tradelane's partner directory: who moves what, where. Data, so adding a partner is a table row."""

from pydantic import BaseModel

from tradelane.enums import Aircraft, Mode, PartnerKind

EU = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)
EUROPE_ROAD = EU - {"CY", "MT"} | {"GB", "CH", "NO", "TR", "RS", "UA", "MD"}
NORTH_AMERICA = frozenset({"US", "CA", "MX"})


class Lane(BaseModel):
    """One direction a carrier serves; None on a side means any country."""

    origins: frozenset[str] | None = None
    destinations: frozenset[str] | None = None

    def serves(self, origin: str, destination: str) -> bool:
        return ((self.origins is None or origin in self.origins)
                and (self.destinations is None or destination in self.destinations))


ANYWHERE = (Lane(),)


class PartnerInfo(BaseModel):
    name: str
    kind: PartnerKind
    display_name: str
    modes: frozenset[Mode] = frozenset()
    """Modes a carrier runs; `bluewave` runs both FCL and LCL and quotes them as generic `ocean`."""
    aircraft: Aircraft | None = None
    """For air carriers: the aircraft its network flies, which decides what dangerous goods it may take."""
    lanes: tuple[Lane, ...] = ANYWHERE
    serves: frozenset[str] | None = None
    """Last mile: destination countries served; None means everywhere."""
    max_parcel_kg: float | None = None
    max_parcel_length_cm: float | None = None


PARTNERS: dict[str, PartnerInfo] = {
    p.name: p
    for p in [
        PartnerInfo(name="skyexpress", kind=PartnerKind.CARRIER, display_name="SkyExpress (air express)",
                    modes=frozenset({Mode.AIR_EXPRESS}), aircraft=Aircraft.CARGO,
                    max_parcel_kg=70, max_parcel_length_cm=120),
        PartnerInfo(name="aerocargo", kind=PartnerKind.CARRIER, display_name="AeroCargo (air freight, belly)",
                    modes=frozenset({Mode.AIR_FREIGHT}), aircraft=Aircraft.PASSENGER,
                    max_parcel_kg=300, max_parcel_length_cm=300),
        PartnerInfo(name="bluewave", kind=PartnerKind.CARRIER, display_name="BlueWave Forwarding (ocean)",
                    modes=frozenset({Mode.OCEAN_LCL, Mode.OCEAN_FCL}), max_parcel_kg=2000,
                    max_parcel_length_cm=1200),
        PartnerInfo(name="silkrail", kind=PartnerKind.CARRIER, display_name="SilkRail (China-Europe rail)",
                    modes=frozenset({Mode.RAIL}),
                    lanes=(Lane(origins=frozenset({"CN"}), destinations=EU),
                           Lane(origins=EU, destinations=frozenset({"CN"}))),
                    max_parcel_kg=1500, max_parcel_length_cm=600),
        PartnerInfo(name="roadlink", kind=PartnerKind.CARRIER, display_name="RoadLink (trucking)",
                    modes=frozenset({Mode.ROAD}),
                    lanes=(Lane(origins=EUROPE_ROAD, destinations=EUROPE_ROAD),
                           Lane(origins=NORTH_AMERICA, destinations=NORTH_AMERICA)),
                    max_parcel_kg=1500, max_parcel_length_cm=1360),
        PartnerInfo(name="parcelnow", kind=PartnerKind.LAST_MILE, display_name="ParcelNow",
                    serves=EU | {"GB", "CH", "NO"}),
        PartnerInfo(name="doorstep", kind=PartnerKind.LAST_MILE, display_name="Doorstep Delivery",
                    serves=frozenset("US CA JP AU NZ SG KR MX BR GB CH".split())),
        PartnerInfo(name="clearpath", kind=PartnerKind.CUSTOMS_BROKER, display_name="ClearPath Customs"),
    ]
}

CUSTOMS_BROKER = "clearpath"


def serves(partner: PartnerInfo, country: str) -> bool:
    return partner.serves is None or country in partner.serves


def carriers_for(mode: Mode, origin: str, destination: str) -> list[PartnerInfo]:
    """Carriers running `mode` on the lane `origin` -> `destination`, in table order."""
    return [
        p for p in PARTNERS.values()
        if p.kind is PartnerKind.CARRIER and mode in p.modes and any(ln.serves(origin, destination) for ln in p.lanes)
    ]


def last_mile_for(destination: str) -> PartnerInfo | None:
    """The first last-mile partner serving the destination country, in table order."""
    for partner in PARTNERS.values():
        if partner.kind is PartnerKind.LAST_MILE and serves(partner, destination):
            return partner
    return None


def kind_of(name: str) -> PartnerKind:
    return PARTNERS[name].kind
