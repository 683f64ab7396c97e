"""The stock ledger: its rules per movement kind, and `infra.persistence.inventory.post` on real SQLite and PostgreSQL
databases under concurrent writers, random operation sequences and repeated postings."""

import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from infra.persistence import inventory as ledger
from infra.persistence.db import make_engine, migrate
from infra.persistence.inventory import NewMovement, Refused
from tradelane.inventory.ledger import EFFECTS, Deltas, LedgerViolation, MovementKind, Position, deltas, undo_of
from tradelane.inventory.models import MovementView

K = MovementKind

# The rule per kind, spelled out here rather than read from `EFFECTS`, so the database's sums are checked against
# an independent statement of what each movement means: (on hand, reserved, in transit) per unit.
UNIT_EFFECT: dict[str, tuple[int, int, int]] = {
    "receipt": (1, 0, 0), "reservation": (0, 1, 0), "release": (0, -1, 0), "shipment": (-1, -1, 0),
    "adjustment": (1, 0, 0), "inbound": (0, 0, 1), "inbound_cancelled": (0, 0, -1),
}
ARRIVAL_EFFECT = (1, 0, -1)

PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---- the rules, without a database -------------------------------------------------------------------------------

DELTAS = [
    ("a receipt puts units on the shelf", K.RECEIPT, 5, False, (5, 0, 0)),
    ("a reservation holds units without moving them", K.RESERVATION, 4, False, (0, 4, 0)),
    ("a release gives a reservation back", K.RELEASE, 4, False, (0, -4, 0)),
    ("a shipment takes reserved units off the shelf", K.SHIPMENT, 3, False, (-3, -3, 0)),
    ("a positive adjustment adds to on hand", K.ADJUSTMENT, 7, False, (7, 0, 0)),
    ("a negative adjustment takes from on hand", K.ADJUSTMENT, -2, False, (-2, 0, 0)),
    ("an inbound shipment is in transit", K.INBOUND, 9, False, (0, 0, 9)),
    ("a cancelled inbound leaves transit", K.INBOUND_CANCELLED, 9, False, (0, 0, -9)),
    ("a delivered replenishment moves from transit to the shelf", K.RECEIPT, 6, True, (6, 0, -6)),
]


@pytest.mark.parametrize(("kind", "quantity", "settles", "expected"), [c[1:] for c in DELTAS],
                         ids=[c[0] for c in DELTAS])
def test_deltas_per_kind(kind, quantity, settles, expected):
    assert deltas(kind, quantity, settles_inbound=settles) == Deltas(*expected)


def test_every_kind_has_an_effect_and_it_matches_the_stated_rule():
    assert {k.value: tuple(EFFECTS[k]) for k in MovementKind} == UNIT_EFFECT


INVALID = [
    ("a zero movement means nothing", K.RECEIPT, 0, False,
     "quantity: 0 is not valid for a receipt (positive units)"),
    ("a zero adjustment means nothing", K.ADJUSTMENT, 0, False,
     "quantity: 0 is not valid for an adjustment (a non-zero number of units)"),
    ("only adjustments are signed", K.RESERVATION, -3, False,
     "quantity: -3 is not valid for a reservation (positive units)"),
    ("a shipment cannot be negative", K.SHIPMENT, -1, False, "quantity: -1 is not valid for a shipment"),
    ("only a receipt settles inbound stock", K.ADJUSTMENT, 4, True,
     "only a receipt settles inbound stock, not an adjustment"),
]


@pytest.mark.parametrize(("kind", "quantity", "settles", "message"), [c[1:] for c in INVALID],
                         ids=[c[0] for c in INVALID])
def test_deltas_refuse_meaningless_movements(kind, quantity, settles, message):
    with pytest.raises(LedgerViolation) as refused:
        deltas(kind, quantity, settles_inbound=settles)
    assert str(refused.value).startswith(message)


APPLY = [
    # (rule, start (on hand, reserved, in transit), kind, quantity, settles, end or the refusal's words)
    ("a reservation may take all that is available", (10, 4, 0), K.RESERVATION, 6, False, (10, 10, 0)),
    ("a reservation beyond available is refused", (10, 4, 0), K.RESERVATION, 8, False, "available at -2"),
    ("a shipment of what is reserved leaves the rest", (10, 4, 0), K.SHIPMENT, 4, False, (6, 0, 0)),
    ("a shipment beyond the reservation is refused", (10, 3, 0), K.SHIPMENT, 4, False, "reserved at -1"),
    ("a release beyond the reservation is refused", (10, 3, 0), K.RELEASE, 5, False, "reserved at -2"),
    ("a negative adjustment may not touch reserved units", (10, 8, 0), K.ADJUSTMENT, -3, False,
     "available at -1"),
    ("a negative adjustment may not go below zero on hand", (2, 0, 0), K.ADJUSTMENT, -5, False, "on_hand at -3"),
    ("a negative adjustment within available is fine", (10, 8, 0), K.ADJUSTMENT, -2, False, (8, 8, 0)),
    ("a cancelled inbound beyond transit is refused", (0, 0, 3), K.INBOUND_CANCELLED, 5, False,
     "in_transit at -2"),
    ("an arrival settles what is in transit", (1, 0, 5), K.RECEIPT, 5, True, (6, 0, 0)),
    ("an arrival of what was never inbound is refused", (1, 0, 0), K.RECEIPT, 5, True, "in_transit at -5"),
]


@pytest.mark.parametrize(("start", "kind", "quantity", "settles", "outcome"), [c[1:] for c in APPLY],
                         ids=[c[0] for c in APPLY])
def test_position_apply(start, kind, quantity, settles, outcome):
    before = Position(on_hand=start[0], reserved=start[1], in_transit=start[2])
    change = deltas(kind, quantity, settles_inbound=settles)
    if isinstance(outcome, tuple):
        after = before.apply(change)
        assert (after.on_hand, after.reserved, after.in_transit) == outcome
        assert after.available == outcome[0] - outcome[1]
        return
    with pytest.raises(LedgerViolation) as refused:
        before.apply(change, what=f"{kind} of {quantity}")
    # The message names the movement, the quantity that would go negative and the figures it was checked against.
    assert str(refused.value) == (f"{kind} of {quantity} would leave {outcome} "
                                  f"(on hand {start[0]}, reserved {start[1]}, in transit {start[2]})")


# ---- real databases -----------------------------------------------------------------------------------------------


@dataclass
class Stream:
    """A fresh ledger database (or a fresh corner of a shared one) with unique stream ids."""

    engine: Engine
    warehouse_id: str
    skus: list[str]

    @property
    def sku(self) -> str:
        return self.skus[0]

    def movement(self, kind: MovementKind, quantity: int, *, sku: str | None = None, key: str | None = None,
                 settles_inbound: bool = False) -> NewMovement:
        return NewMovement(key=key or f"test:{uuid.uuid4().hex}", warehouse_id=self.warehouse_id,
                           sku=sku or self.sku, kind=kind, quantity=quantity, settles_inbound=settles_inbound)

    def position(self, sku: str | None = None) -> tuple[int, int, int]:
        views = ledger.stock(self.engine, sku=sku or self.sku, warehouse_id=self.warehouse_id)
        assert len(views) <= 1
        return (views[0].on_hand, views[0].reserved, views[0].in_transit) if views else (0, 0, 0)

    def rows(self, sku: str | None = None) -> list[MovementView]:
        return ledger.movements(self.engine, sku=sku or self.sku, warehouse_id=self.warehouse_id, limit=1000)


FreshLedger = Callable[..., AbstractContextManager[Stream]]
"""`fresh_ledger(skus=2)`: a context with a fresh `Stream`."""


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Migrated once and copied per example: a fresh file each time without running Alembic a hundred times.
    path = tmp_path_factory.mktemp("ledger-template") / "ledger.db"
    migrate(f"sqlite:///{path}")
    return path


def _ids(skus: int) -> tuple[str, list[str]]:
    tag = uuid.uuid4().hex[:10].upper()
    return f"W-{tag}", [f"SKU{i}-{tag}" for i in range(skus)]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fresh_ledger(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> FreshLedger:
    """A factory of fresh ledgers: a new SQLite file per call, or new stream ids in the module's PostgreSQL."""
    if request.param == "postgresql":
        engine = request.getfixturevalue("pg_engine")

        @contextmanager
        def fresh_pg(skus: int = 2) -> Iterator[Stream]:
            yield Stream(engine, *_ids(skus))

        return fresh_pg
    template = request.getfixturevalue("sqlite_template")
    directory = tmp_path_factory.mktemp("ledgers")

    @contextmanager
    def fresh_sqlite(skus: int = 2) -> Iterator[Stream]:
        path = directory / f"{uuid.uuid4().hex}.db"
        shutil.copyfile(template, path)
        engine = make_engine(f"sqlite:///{path}")
        try:
            yield Stream(engine, *_ids(skus))
        finally:
            engine.dispose()
            path.unlink()

    return fresh_sqlite


def independent_position(rows: list[MovementView]) -> tuple[int, int, int]:
    """The position from the rows' kinds and quantities alone (not their stored deltas)."""
    totals = [0, 0, 0]
    for row in rows:
        effect = UNIT_EFFECT[row.kind.value]
        if row.kind is K.RECEIPT and row.in_transit_delta != 0:
            effect = ARRIVAL_EFFECT
        for i in range(3):
            totals[i] += effect[i] * row.quantity
        assert (row.on_hand_delta, row.reserved_delta, row.in_transit_delta) == tuple(
            e * row.quantity for e in effect), f"stored deltas of row {row.seq} disagree with its kind"
    return totals[0], totals[1], totals[2]


# ---- a. concurrent reservations -------------------------------------------------------------------------------------


@PROPERTY
@given(stock=st.integers(0, 60), sizes=st.lists(st.integers(1, 15), min_size=1, max_size=40),
       workers=st.integers(8, 16))
def test_concurrent_reservations_never_reserve_a_unit_twice(fresh_ledger, stock, sizes, workers):
    with fresh_ledger() as db:
        if stock:
            ledger.post(db.engine, [db.movement(K.RECEIPT, stock)])

        def reserve(size: int) -> Refused | None:
            try:
                ledger.post(db.engine, [db.movement(K.RESERVATION, size)])
            except Refused as refused:
                return refused
            return None

        with ThreadPoolExecutor(max_workers=workers) as pool:
            outcomes = list(pool.map(reserve, sizes))

        accepted = [size for size, refused in zip(sizes, outcomes, strict=True) if refused is None]
        refused = [(size, err) for size, err in zip(sizes, outcomes, strict=True) if err is not None]
        on_hand, reserved, in_transit = db.position()
        available = on_hand - reserved
        assert (on_hand, reserved, in_transit) == (stock, sum(accepted), 0)
        assert available >= 0
        rows = db.rows()
        assert independent_position(rows) == (on_hand, reserved, in_transit)
        assert sorted(r.quantity for r in rows if r.kind is K.RESERVATION) == sorted(accepted)
        # Reservations only lower availability, so a request refused at any moment is still too big at the end.
        for size, err in refused:
            assert size > available, f"a reservation of {size} was refused with {available} still available"
            assert err.problems[0].startswith(f"reservation of {size} {db.sku} at {db.warehouse_id} would leave "
                                              f"available at -")
        assert sorted(r.seq for r in rows) == list(range(1, (1 if stock else 0) + len(accepted) + 1))


@PROPERTY
@given(stocks=st.tuples(st.integers(1, 30), st.integers(1, 30)),
       orders=st.lists(st.tuples(st.integers(1, 8), st.integers(1, 8), st.booleans()), min_size=2, max_size=24))
def test_concurrent_two_line_postings_in_either_order_are_all_or_nothing(fresh_ledger, stocks, orders):
    # Postings lock two streams in opposite orders: on PostgreSQL that can deadlock, which must cost a retry only.
    with fresh_ledger() as db:
        a, b = db.skus
        ledger.post(db.engine, [db.movement(K.RECEIPT, stocks[0], sku=a), db.movement(K.RECEIPT, stocks[1], sku=b)])

        def reserve(order: tuple[int, int, bool]) -> bool:
            lines = [db.movement(K.RESERVATION, order[0], sku=a), db.movement(K.RESERVATION, order[1], sku=b)]
            try:
                ledger.post(db.engine, lines[::-1] if order[2] else lines)
            except Refused:
                return False
            return True

        with ThreadPoolExecutor(max_workers=12) as pool:
            accepted = [o for o, ok in zip(orders, pool.map(reserve, orders), strict=True) if ok]

        assert db.position(a) == (stocks[0], sum(o[0] for o in accepted), 0)
        assert db.position(b) == (stocks[1], sum(o[1] for o in accepted), 0)
        for sku in (a, b):
            rows = db.rows(sku)
            assert sorted(r.seq for r in rows) == list(range(1, len(accepted) + 2))
            assert independent_position(rows) == db.position(sku)


# ---- b. random sequences against a model ---------------------------------------------------------------------------


OPERATIONS = st.one_of(
    st.tuples(st.just("receipt"), st.integers(1, 20)),
    st.tuples(st.just("reserve"), st.integers(1, 20)),
    st.tuples(st.just("release"), st.integers(0, 99)),  # which earlier reservation
    st.tuples(st.just("ship"), st.integers(0, 99)),
    st.tuples(st.just("adjust"), st.integers(-20, 20).filter(bool)),
    st.tuples(st.just("inbound"), st.integers(1, 20)),
    st.tuples(st.just("arrival"), st.integers(1, 20)),
)


class Model:
    """What the ledger should do, in plain integers: a movement is refused exactly when it would make on hand,
    reserved, in transit or available negative."""

    NAMES = ("on_hand", "reserved", "in_transit", "available")

    def __init__(self) -> None:
        self.positions: dict[str, list[int]] = {}

    def position(self, sku: str) -> tuple[int, int, int]:
        p = self.positions.get(sku, [0, 0, 0])
        return p[0], p[1], p[2]

    def apply(self, sku: str, effect: tuple[int, int, int], quantity: int) -> str | None:
        """Apply unless something would go negative; then the words the refusal must contain."""
        before = self.position(sku)
        after = [before[i] + effect[i] * quantity for i in range(3)]
        for name, value in zip(self.NAMES, [*after, after[0] - after[1]], strict=True):
            if value < 0:
                return f"would leave {name} at {value} (on hand {before[0]}, reserved {before[1]}, " \
                       f"in transit {before[2]})"
        self.positions[sku] = after
        return None


@PROPERTY
@given(steps=st.lists(st.tuples(st.integers(0, 1), OPERATIONS), max_size=30))
def test_random_operations_match_a_simple_model(fresh_ledger, steps):
    with fresh_ledger() as db:
        model = Model()
        reservations: dict[str, list[int]] = {sku: [] for sku in db.skus}
        for stream, (op, value) in steps:
            sku = db.skus[stream]
            if op in ("release", "ship"):
                if not reservations[sku]:
                    continue
                # Any earlier reservation, even one already settled: settling it twice must be refused whenever
                # the stream's reserved units would go negative (the ledger knows sums, not shipments).
                kind, quantity = (K.RELEASE if op == "release" else K.SHIPMENT), reservations[sku][
                    value % len(reservations[sku])]
            else:
                kind = {"receipt": K.RECEIPT, "reserve": K.RESERVATION, "adjust": K.ADJUSTMENT,
                        "inbound": K.INBOUND, "arrival": K.RECEIPT}[op]
                quantity = value
            settles = op == "arrival"
            expected = model.apply(sku, ARRIVAL_EFFECT if settles else UNIT_EFFECT[kind.value], quantity)
            try:
                ledger.post(db.engine, [db.movement(kind, quantity, sku=sku, settles_inbound=settles)])
            except Refused as refused:
                assert expected is not None, f"{op} {quantity} refused, the model allows it: {refused}"
                assert refused.problems == [f"{kind} of {quantity} {sku} at {db.warehouse_id} {expected}"]
                continue
            assert expected is None, f"{op} {quantity} of {sku} accepted, the model refuses: {expected}"
            if op == "reserve":
                reservations[sku].append(quantity)
        for sku in db.skus:
            assert db.position(sku) == model.position(sku)
            rows = db.rows(sku)
            assert independent_position(rows) == model.position(sku)
            assert sorted(r.seq for r in rows) == list(range(1, len(rows) + 1))


# ---- c. idempotency -------------------------------------------------------------------------------------------------


@PROPERTY
@given(lines=st.lists(st.integers(1, 10), min_size=1, max_size=3), copies=st.integers(2, 12))
def test_a_posting_repeated_concurrently_is_written_once(fresh_ledger, lines, copies):
    with fresh_ledger(skus=3) as db:
        ledger.post(db.engine, [db.movement(K.RECEIPT, 10, sku=sku) for sku in db.skus])
        posting = [db.movement(K.RESERVATION, q, sku=sku, key=f"SHIP-1:reserve:{db.warehouse_id}:{sku}")
                   for q, sku in zip(lines, db.skus, strict=False)]
        start = threading.Barrier(copies)

        def submit(_: int) -> list[tuple[int | None, str, int]]:
            start.wait(timeout=30)
            return sorted((r.id, r.key, r.quantity) for r in ledger.post(db.engine, posting))

        with ThreadPoolExecutor(max_workers=copies) as pool:
            answers = list(pool.map(submit, range(copies)))

        # Every caller is told about the same rows: the ones written by whichever got there first.
        assert all(answer == answers[0] for answer in answers)
        assert sorted((key, q) for _, key, q in answers[0]) == sorted((m.key, m.quantity) for m in posting)
        for index, sku in enumerate(db.skus):
            reserved = lines[index] if index < len(lines) else 0
            assert db.position(sku) == (10, reserved, 0)
            assert [r.seq for r in reversed(db.rows(sku))] == ([1, 2] if reserved else [1])


# ---- all or nothing -------------------------------------------------------------------------------------------------

SHORT = [
    ("one short line writes nothing", [("a", 3), ("b", 5)],
     ["reservation of 5 {b} at {w} would leave available at -3 (on hand 2, reserved 0, in transit 0)"]),
    ("every short line is named", [("a", 11), ("b", 5)],
     ["reservation of 11 {a} at {w} would leave available at -1 (on hand 10, reserved 0, in transit 0)",
      "reservation of 5 {b} at {w} would leave available at -3 (on hand 2, reserved 0, in transit 0)"]),
    ("lines of one stream add up", [("a", 6), ("a", 6)],
     ["reservation of 6 {a} at {w} would leave available at -2 (on hand 10, reserved 6, in transit 0)"]),
]


@pytest.mark.parametrize(("lines", "problems"), [c[1:] for c in SHORT], ids=[c[0] for c in SHORT])
def test_a_multi_line_posting_is_all_or_nothing(fresh_ledger, lines, problems):
    with fresh_ledger() as db:
        names = {"a": db.skus[0], "b": db.skus[1], "w": db.warehouse_id}
        ledger.post(db.engine, [db.movement(K.RECEIPT, 10, sku=names["a"]), db.movement(K.RECEIPT, 2, sku=names["b"])])
        with pytest.raises(Refused) as refused:
            ledger.post(db.engine, [db.movement(K.RESERVATION, q, sku=names[s]) for s, q in lines])
        assert refused.value.problems == [p.format(**names) for p in problems]
        assert (db.position(db.skus[0]), db.position(db.skus[1])) == ((10, 0, 0), (2, 0, 0))
        assert [len(db.rows(sku)) for sku in db.skus] == [1, 1]


def test_a_multi_line_posting_that_fits_is_written_whole(fresh_ledger):
    with fresh_ledger() as db:
        a, b = db.skus
        ledger.post(db.engine, [db.movement(K.RECEIPT, 10, sku=a), db.movement(K.RECEIPT, 2, sku=b)])
        rows = ledger.post(db.engine, [db.movement(K.RESERVATION, 4, sku=a), db.movement(K.RESERVATION, 2, sku=b),
                                       db.movement(K.RESERVATION, 6, sku=a)])
        assert [(r.sku, r.seq, r.reserved_delta) for r in rows] == [(a, 2, 4), (b, 2, 2), (a, 3, 6)]
        assert (db.position(a), db.position(b)) == ((10, 10, 0), (2, 2, 0))


def _row(kind: MovementKind, quantity: int, warehouse_id: str = "SZX-1", sku: str = "A",
         *, settles_inbound: bool = False) -> MovementView:
    change = deltas(kind, quantity, settles_inbound=settles_inbound)
    return MovementView(seq=1, warehouse_id=warehouse_id, sku=sku, kind=kind, quantity=quantity,
                        on_hand_delta=change.on_hand, reserved_delta=change.reserved,
                        in_transit_delta=change.in_transit,
                        shipment_id="S", reason="", actor="", at="2026-11-24T00:00:00Z")


UNDO_CASES = [
    ("an open reservation is released", [_row(K.RESERVATION, 3)], [(K.RELEASE, 3, "release")]),
    ("a reservation already released holds nothing", [_row(K.RESERVATION, 3), _row(K.RELEASE, 3)], []),
    ("shipped goods return to the shelf", [_row(K.RESERVATION, 3), _row(K.SHIPMENT, 3)],
     [(K.RECEIPT, 3, "return")]),
    ("returned goods return once", [_row(K.RESERVATION, 3), _row(K.SHIPMENT, 3), _row(K.RECEIPT, 3)], []),
    ("inbound that will not come is cancelled", [_row(K.INBOUND, 200, "BER-1")],
     [(K.INBOUND_CANCELLED, 200, "inbound-cancelled")]),
    ("delivered inbound holds nothing",
     [_row(K.INBOUND, 200, "BER-1"), _row(K.RECEIPT, 200, "BER-1", settles_inbound=True)], []),
]


@pytest.mark.parametrize(("rows", "expected"), [c[1:] for c in UNDO_CASES], ids=[c[0] for c in UNDO_CASES])
def test_undo_gives_back_what_is_still_held(rows, expected):
    assert [(u.kind, u.quantity, u.step) for u in undo_of(rows)] == expected
