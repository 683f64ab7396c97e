"""The stock ledger's rules: every change of stock is a movement, and a position is the sum of its movements.

A movement never edits another one. Its effect on the three quantities of a warehouse's SKU (on hand, reserved,
in transit towards it) comes from its kind through `EFFECTS`, a table, and is stored with the row, so a position
is a plain sum and the ledger can be audited row by row. `apply` refuses a movement that would leave any quantity,
or the available stock (on hand minus reserved), below zero.
"""

from collections.abc import Iterable
from enum import StrEnum
from typing import NamedTuple, Protocol

from pydantic import BaseModel


class MovementKind(StrEnum):
    RECEIPT = "receipt"
    """Goods put on the shelf: a delivered replenishment (which also leaves transit), a return, a manual receipt."""
    RESERVATION = "reservation"
    """Held for an outbound shipment when it starts; still on hand, no longer available."""
    RELEASE = "release"
    """A reservation given back: the shipment was cancelled or compensated before it was booked."""
    SHIPMENT = "shipment"
    """The reserved goods left with the booked shipment: off the shelf and out of the reservation."""
    ADJUSTMENT = "adjustment"
    """A stock count's correction (signed quantity)."""
    INBOUND = "inbound"
    """A booked replenishment shipment towards this warehouse: in transit until it is delivered."""
    INBOUND_CANCELLED = "inbound_cancelled"
    """A replenishment shipment undone before delivery: no longer in transit."""

    @property
    def named(self) -> str:
        """`a receipt`, `an adjustment`: for messages."""
        return f"{'an' if self.value[0] in 'aeiou' else 'a'} {self.value}"


class Deltas(NamedTuple):
    on_hand: int
    reserved: int
    in_transit: int


EFFECTS: dict[MovementKind, Deltas] = {
    MovementKind.RECEIPT: Deltas(1, 0, 0),
    MovementKind.RESERVATION: Deltas(0, 1, 0),
    MovementKind.RELEASE: Deltas(0, -1, 0),
    MovementKind.SHIPMENT: Deltas(-1, -1, 0),
    MovementKind.ADJUSTMENT: Deltas(1, 0, 0),
    MovementKind.INBOUND: Deltas(0, 0, 1),
    MovementKind.INBOUND_CANCELLED: Deltas(0, 0, -1),
}
"""Effect per unit of each kind; a movement's quantity is positive except for adjustments, which are signed."""

ARRIVAL = Deltas(1, 0, -1)
"""A receipt that settles inbound stock: the delivered replenishment moves from transit to the shelf."""


class LedgerViolation(ValueError):
    """A movement that would leave negative stock; the message names the quantity and the figures."""


def deltas(kind: MovementKind, quantity: int, *, settles_inbound: bool = False) -> Deltas:
    """The change a movement makes. Only adjustments may be negative; a zero movement changes nothing and is
    refused, so every row in the ledger means something."""
    if quantity == 0 or (quantity < 0 and kind is not MovementKind.ADJUSTMENT):
        expected = "a non-zero number of units" if kind is MovementKind.ADJUSTMENT else "positive units"
        raise LedgerViolation(f"quantity: {quantity} is not valid for {kind.named} ({expected})")
    if settles_inbound and kind is not MovementKind.RECEIPT:
        raise LedgerViolation(f"only a receipt settles inbound stock, not {kind.named}")
    unit = ARRIVAL if settles_inbound else EFFECTS[kind]
    return Deltas(unit.on_hand * quantity, unit.reserved * quantity, unit.in_transit * quantity)


class Position(BaseModel):
    """One SKU at one warehouse: the sums of its movements."""

    on_hand: int = 0
    reserved: int = 0
    in_transit: int = 0

    @property
    def available(self) -> int:
        """What a new shipment may reserve: on hand and not held for another shipment."""
        return self.on_hand - self.reserved

    def apply(self, change: Deltas, *, what: str = "movement") -> "Position":
        """The position after `change`; raises `LedgerViolation` instead of going below zero."""
        after = Position(on_hand=self.on_hand + change.on_hand, reserved=self.reserved + change.reserved,
                         in_transit=self.in_transit + change.in_transit)
        for name in ("on_hand", "reserved", "in_transit", "available"):
            if getattr(after, name) < 0:
                raise LedgerViolation(
                    f"{what} would leave {name} at {getattr(after, name)} "
                    f"(on hand {self.on_hand}, reserved {self.reserved}, in transit {self.in_transit})")
        return after


class Posted(Protocol):
    """A movement already in the ledger, as far as undoing it needs."""

    warehouse_id: str
    sku: str
    kind: str
    quantity: int
    reserved_delta: int
    in_transit_delta: int


class Undo(NamedTuple):
    warehouse_id: str
    sku: str
    kind: MovementKind
    quantity: int
    step: str
    """Part of the undo's idempotency key: `release`, `inbound-cancelled` or `return`."""
    reason: str


def undo_of(movements: Iterable[Posted]) -> list[Undo]:
    """What gives back everything a shipment's movements still hold: an open reservation is released, inbound stock
    that will not come is cancelled, and goods that left with a booking since undone return to the shelf (once).
    Empty when nothing is held, so undoing twice changes nothing."""
    reserved: dict[tuple[str, str], int] = {}
    in_transit: dict[tuple[str, str], int] = {}
    shipped: dict[tuple[str, str], int] = {}
    returned: set[tuple[str, str]] = set()
    for m in movements:
        stream = (m.warehouse_id, m.sku)
        reserved[stream] = reserved.get(stream, 0) + m.reserved_delta
        in_transit[stream] = in_transit.get(stream, 0) + m.in_transit_delta
        if m.kind == MovementKind.SHIPMENT:
            shipped[stream] = shipped.get(stream, 0) + m.quantity
        elif m.kind == MovementKind.RECEIPT:
            returned.add(stream)
    undo = []
    for (warehouse_id, sku) in sorted(reserved):
        if reserved[(warehouse_id, sku)] > 0:
            undo.append(Undo(warehouse_id, sku, MovementKind.RELEASE, reserved[(warehouse_id, sku)], "release",
                             "shipment undone before booking"))
        if in_transit[(warehouse_id, sku)] > 0:
            undo.append(Undo(warehouse_id, sku, MovementKind.INBOUND_CANCELLED, in_transit[(warehouse_id, sku)],
                             "inbound-cancelled", "replenishment undone"))
    for stream, units in sorted(shipped.items()):
        if stream not in returned:
            undo.append(Undo(*stream, MovementKind.RECEIPT, units, "return",
                             "returned: the booked shipment was undone"))
    return undo
