"""Probes for load balancers and orchestrators: liveness (`/healthz`) and readiness (`/readyz`).

The Prometheus endpoint (`/metrics`, `starter.metrics`) sits beside them under the same `operations` tag.
"""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from infra.platform.health import Readiness, check_readiness
from starter.deps import EngineDep, SettingsDep, TemporalDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness probe")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers. Restart it when this fails."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness probe", response_model=Readiness,
            responses={503: {"model": Readiness, "description": "a dependency is unavailable"}})
async def readyz(client: TemporalDep, engine: EngineDep, settings: SettingsDep) -> JSONResponse:
    """Readiness: Temporal and the database answer. Send traffic elsewhere while this fails."""
    readiness = await check_readiness(client, engine, timeout=settings.query_timeout_s)
    return JSONResponse(status_code=200 if readiness.ready else 503, content=readiness.model_dump())
