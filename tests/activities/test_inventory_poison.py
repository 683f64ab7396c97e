"""The stock ledger's steps give up on data the database refuses for good (issue 18): a NUL in a SKU (a request
sent around the API) made PostgreSQL answer `DataError` on every retry of `inventory.reserve`, retried without
limit; now it fails non-retryable as `LedgerRefused`. A database that is down is still retried."""

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.inventory import LEDGER_REFUSED, InventoryActivities
from infra.persistence.db import make_engine
from tests.inventory.network import make_network
from tradelane.rules import default_book
from tradelane.shipment.calls import StockRelease, StockRequest


@pytest.fixture(scope="module")
def pg(pg_engine):
    return pg_engine


async def test_a_sku_postgres_cannot_store_is_refused_for_good(pg):
    net = make_network(pg)
    acts = InventoryActivities(pg, default_book())
    req = StockRequest(shipment_id="LEDGER-NUL-1", idempotency_key="LEDGER-NUL-1", origin_warehouse=net.origin,
                       lines={f"{net.sku}\x00x": 1})
    with pytest.raises(ApplicationError) as err:
        await ActivityEnvironment().run(acts.reserve, req)
    assert (err.value.type, err.value.non_retryable) == (LEDGER_REFUSED, True)
    assert "DataError" in str(err.value) and net.sku not in str(err.value)


async def test_a_ledger_that_is_down_is_retried():
    down = make_engine("postgresql+psycopg://tradelane@127.0.0.1:9/postgres?connect_timeout=1")
    acts = InventoryActivities(down, default_book())
    with pytest.raises(Exception) as err:
        await ActivityEnvironment().run(acts.release, StockRelease(shipment_id="LEDGER-DOWN-1",
                                                                   idempotency_key="LEDGER-DOWN-1"))
    assert not isinstance(err.value, ApplicationError)
