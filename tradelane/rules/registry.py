"""Every rule table Tradelane reads: its file in `data/` and the row model that validates it.

The list is explicit, so `RuleBook.load_all()` (at worker start) loads and checks every table whatever the process
imported before. A new table is three things held together by a test: a YAML file in `data/`, a row model with its
`table_name` in `schemas/`, and a line here.
"""

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from tradelane.rules.base import Rule
from tradelane.rules.schemas import (
    carbon,
    dangerous_goods,
    documents,
    eta,
    fx,
    geo,
    hs_codes,
    landed_cost,
    last_mile,
    marking,
    planner,
    restricted,
    risk,
    sanctions,
    waste,
)

MODELS: tuple[type[Rule], ...] = (
    # planning
    planner.Route,
    planner.VolumetricDivisor,
    planner.FreightRate,
    geo.Location,
    carbon.EmissionFactor,
    risk.RiskEntry,
    last_mile.LastMileRow,
    eta.EtaAllowanceRow,
    # compliance
    sanctions.SanctionsProgramme,
    restricted.RestrictedGoods,
    hs_codes.HsEdition,
    hs_codes.HsLength,
    hs_codes.HsSubheading,
    dangerous_goods.DgRule,
    documents.DocumentRule,
    marking.MarkingRule,
    # cost and footprint
    fx.FxRate,
    landed_cost.ImportRegime,
    landed_cost.DutyRate,
    landed_cost.InsuranceRate,
    landed_cost.Fee,
    waste.PackagingMaterial,
)
"""Every row model, grouped by what the tables decide."""


def _by_table(models: Iterable[type[Rule]]) -> Mapping[str, type[Rule]]:
    tables: dict[str, type[Rule]] = {}
    for model in models:
        name = model.table_name
        if name in tables:
            raise ValueError(f"registry: table '{name}' has two models, {tables[name].__name__} and {model.__name__}")
        tables[name] = model
    return MappingProxyType(tables)


TABLES: Mapping[str, type[Rule]] = _by_table(MODELS)
"""Table name (the file `data/<name>.yaml`) -> its row model."""
