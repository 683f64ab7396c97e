"""The suggestions' store: a later replenishment run of the same day proposes the same suggestion again (its id is
the day, warehouse and SKU), and that must not take back what ops decided on it. Found when the scheduled run that
fired a second after an approved one set its started suggestion back to proposed."""

from datetime import UTC, datetime, timedelta

import pytest

from activities.inventory import InventoryActivities
from infra.persistence import inventory as ledger
from infra.persistence.db import make_engine, migrate
from tests.inventory.network import make_network, receive
from tradelane.inventory.models import SaleRecord, SuggestionState, SuggestRequest
from tradelane.inventory.synthetic import seasonal_sales
from tradelane.rules import default_book


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'inventory.db'}"
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("decided", [SuggestionState.STARTED, SuggestionState.REJECTED, SuggestionState.APPROVED,
                                     SuggestionState.EXPIRED])
async def test_a_later_run_of_the_same_day_does_not_take_back_a_decision(engine, decided):
    net = make_network(engine)
    receive(engine, net.origin, net.sku, 5_000)
    today = datetime.now(UTC).date()
    start = today - timedelta(days=120)
    units = seasonal_sales(120, base=30, trend_per_day=0.02, weekly=(1, 1, 1, 1, 1, 1, 1), noise_sd=2, start=start,
                           seed=3)
    ledger.save_sales(engine, [SaleRecord(day=start + timedelta(days=i), sku=net.sku, market="DE", quantity=q)
                               for i, q in enumerate(units)])
    inventory = InventoryActivities(engine, default_book())
    first = await inventory.suggest(SuggestRequest(run_id="run-1", as_of=today))
    [proposed] = [s for s in first.suggestions if s.sku == net.sku]
    ledger.save_suggestions(engine, [proposed.model_copy(update={"state": decided, "decided_by": "ops"})])

    again = await inventory.suggest(SuggestRequest(run_id="run-2", as_of=today))  # stores its proposals
    assert proposed.suggestion_id in {s.suggestion_id for s in again.suggestions}
    [stored] = [s for s in ledger.suggestions(engine, sku=net.sku)]
    assert (stored.state, stored.decided_by, stored.run_id) == (decided, "ops", "run-1")


async def test_a_proposal_is_still_refreshed_by_a_later_run(engine):
    net = make_network(engine)
    receive(engine, net.origin, net.sku, 5_000)
    today = datetime.now(UTC).date()
    start = today - timedelta(days=120)
    ledger.save_sales(engine, [SaleRecord(day=start + timedelta(days=i), sku=net.sku, market="DE", quantity=30)
                               for i in range(120)])
    inventory = InventoryActivities(engine, default_book())
    await inventory.suggest(SuggestRequest(run_id="run-1", as_of=today))
    await inventory.suggest(SuggestRequest(run_id="run-2", as_of=today))
    [stored] = ledger.suggestions(engine, sku=net.sku)
    assert (stored.state, stored.run_id) == (SuggestionState.PROPOSED, "run-2")
