"""Readiness of a Tradelane process: can it reach Temporal and the database right now?

Liveness (`/healthz`) only says the process answers; readiness (`/readyz`) says it can do its work, so a load
balancer or Kubernetes sends traffic elsewhere while Temporal or the database is away.
"""

import asyncio
from datetime import timedelta

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.engine import Engine
from temporalio.client import Client


class Check(BaseModel):
    name: str
    ok: bool
    detail: str = ""


class Readiness(BaseModel):
    ready: bool
    checks: list[Check]


async def _temporal(client: Client, timeout: float) -> Check:
    try:
        ok = await client.service_client.check_health(timeout=timedelta(seconds=timeout))
    except Exception as err:  # any failure to reach the server means "not ready", with the reason shown
        return Check(name="temporal", ok=False, detail=f"{type(err).__name__}: {err}")
    return Check(name="temporal", ok=ok, detail="" if ok else "health check answered not serving")


def _database_sync(engine: Engine) -> Check:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as err:  # as above: the reason goes into the answer
        return Check(name="database", ok=False, detail=f"{type(err).__name__}: {str(err).splitlines()[0]}")
    return Check(name="database", ok=True)


def database_check(engine: Engine) -> Check:
    """The database answers a trivial query (blocking: run it in a thread)."""
    return _database_sync(engine)


async def check_readiness(client: Client, engine: Engine, timeout: float = 5.0,
                          extra: list[Check] | None = None) -> Readiness:
    """Temporal and the database, checked concurrently; `extra` adds the caller's own checks (the worker's)."""
    temporal, database = await asyncio.gather(_temporal(client, timeout),
                                              asyncio.to_thread(_database_sync, engine))
    checks = [temporal, database, *(extra or [])]
    return Readiness(ready=all(c.ok for c in checks), checks=checks)
