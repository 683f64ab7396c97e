"""Tradelane's partner directory as the planner sees it: who moves what, where.

The rows are data (`tradelane/data/partners.yaml`, read by `tradelane.connections`), so adding a partner is a
table row; this module only answers the planner's questions about them.
"""

from tradelane.connections import ANYWHERE, Connection, Lane, directory
from tradelane.enums import Mode, PartnerKind

__all__ = ["ANYWHERE", "CUSTOMS_BROKER", "EU", "PARTNERS", "Lane", "PartnerInfo", "carriers_for", "kind_of",
           "last_mile_for", "serves"]

PartnerInfo = Connection
"""A partner as the planner reads it: its connection row."""

PARTNERS: dict[str, PartnerInfo] = dict(directory().connections)

EU = directory().regions["EU"]

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
