"""`make bench-console`: what an ops console page costs with 100,000 shipments in the read model (issue 22).

Fills a fresh read model (SQLite by default; `--database-url` for PostgreSQL) with `--shipments` rows (a share of
them waiting at a gate, some with open exceptions), then times, through the real API app and its console routes
(in process, over ASGI, with an ops key), the pages ops use: the inbox, the first page of the list, a page deep in
the list (by its cursor), a search by order reference and by tracking number, a filtered list and the exceptions
board. Prints the median and p95 of each in ms, with the same pages at 1,000 shipments for comparison, so what
grows with the table shows as a ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert
from sqlalchemy.engine import Engine

from infra.persistence.db import ApprovalRow, ShipmentRow, make_engine, migrate
from infra.platform.settings import DEV_API_KEYS, Settings
from starter.api import create_app
from starter.console.queries import cursor
from tradelane.keys import workflow_id

START = datetime(2026, 1, 1, tzinfo=UTC)
STATUSES = ["in_progress"] * 14 + ["delivered"] * 4 + ["delayed", "on_hold"]
STAGES = ["booking", "packaging_check", "customs_filing", "transit", "last_mile"]
COUNTRIES = ["DE", "US", "FR", "JP", "GB", "AU", "CA", "NL"]


def row(i: int) -> dict[str, Any]:
    status = STATUSES[i % len(STATUSES)]
    return dict(
        shipment_id=f"SHP-{i:07d}", workflow_id=workflow_id(f"SHP-{i:07d}"), merchant_id=f"merchant-{i % 40}",
        origin_country="CN", destination_country=COUNTRIES[i % len(COUNTRIES)], stage=STAGES[i % len(STAGES)],
        status=status, declared_value="120.00", currency="EUR", carrier="dhl_express", mode="air_express",
        tracking_number=f"TRK{i:09d}", order_ref=f"ORD-{i:07d}",
        pending_gates="high_value" if status == "on_hold" else "", open_exceptions="late" if i % 97 == 0 else "",
        version=1, created_at=START + timedelta(minutes=i), updated_at=START + timedelta(minutes=i, seconds=i % 7),
        events_count=0)


def fill(engine: Engine, count: int) -> None:
    batch = 5000
    with engine.begin() as connection:
        for first in range(0, count, batch):
            rows = [row(i) for i in range(first, min(first + batch, count))]
            connection.execute(insert(ShipmentRow.__table__), rows)  # type: ignore[attr-defined]
            gates = [dict(shipment_id=r["shipment_id"], gate_index=0, gate="high_value", stage="booking",
                          reason="declared value above the approval threshold", opened_at=r["updated_at"])
                     for r in rows if r["pending_gates"]]
            if gates:
                connection.execute(insert(ApprovalRow.__table__), gates)  # type: ignore[attr-defined]


async def time_pages(engine: Engine, count: int, reps: int) -> dict[str, tuple[float, float]]:
    app = create_app(Settings(_env_file=None, environment="development"), engine=engine)
    deep = ShipmentRow(**row(count // 10))  # 90 % down the list, newest first
    pages = {
        "inbox": "/console",
        "list, first page": "/console/shipments",
        "list, page 90% deep": f"/console/shipments?after={cursor(deep)}",
        "search by order ref": f"/console/shipments?q=ORD-{count // 2:07d}",
        "search by tracking no.": f"/console/shipments?q=TRK{count // 3:09d}",
        "filter status+country": "/console/shipments?status=delayed&country=JP",
        "exceptions board": "/console/exceptions",
    }
    found: dict[str, tuple[float, float]] = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console",
                                 headers={"Authorization": f"Bearer {DEV_API_KEYS['ops']}"}) as client:
        for name, path in pages.items():
            times = []
            for _ in range(reps):
                began = time.perf_counter()
                response = await client.get(path)
                times.append((time.perf_counter() - began) * 1000)
                assert response.status_code in (200, 303), (path, response.status_code, response.text[:300])
            times.sort()
            found[name] = (statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)])
    return found


def measure(url: str | None, count: int, reps: int) -> dict[str, tuple[float, float]]:
    with tempfile.TemporaryDirectory() as folder:
        database = url or f"sqlite:///{folder}/console-{count}.db"
        migrate(database)
        engine = make_engine(database)
        began = time.perf_counter()
        fill(engine, count)
        print(f"  filled {count:,} shipments in {time.perf_counter() - began:.1f} s", flush=True)
        try:
            return asyncio.run(time_pages(engine, count, reps))
        finally:
            engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shipments", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=1_000)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--database-url", default=None, help="an empty PostgreSQL database (default: SQLite)")
    args = parser.parse_args()
    small = measure(args.database_url, args.baseline, args.reps) if args.database_url is None else None
    large = measure(args.database_url, args.shipments, args.reps)
    print(f"\nconsole page times, ms (median / p95 of {args.reps}); ratio = median at {args.shipments:,} / at "
          f"{args.baseline:,}")
    print(f"  {'page':<26}{f'{args.baseline:,}':>16}{f'{args.shipments:,}':>16}{'ratio':>8}")
    for name, (median, p95) in large.items():
        base = f"{small[name][0]:.1f} / {small[name][1]:.1f}" if small else "-"
        ratio = f"{median / small[name][0]:.2f}" if small else "-"
        print(f"  {name:<26}{base:>16}{f'{median:.1f} / {p95:.1f}':>16}{ratio:>8}")


if __name__ == "__main__":
    main()
