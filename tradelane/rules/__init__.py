"""Effective-dated rule tables: regulations and planning figures as data, chosen by the shipment's ship date.

Every table is a YAML file in `data/` (or in a directory the operator points `TRADELANE_RULES_DIR` at):

```yaml
table: duty_rates
description: What the table holds.
defaults:            # merged into every row (a row's own value wins)
  source: "Where the figures come from"
  status: sample
rules:
  - {heading: "8471", rate_pct: "0", valid_from: 2022-01-01}
```

Each row is validated once, on first use, by the table's pydantic model: one schema module per area in `schemas/`,
and `registry.TABLES` lists every table with its model, so `RuleBook.load_all()` needs no other import first.
Every row carries `source`, `valid_from`, `valid_to` (exclusive, open when empty) and `status`, which keeps the
reference's "(verify)" and "(general)" marks in the data instead of in a comment.
"""

from tradelane.rules.base import DATA_DIR, Rule, RuleDataError, RuleStatus, RuleTable, load_table
from tradelane.rules.book import RuleBook, default_book
from tradelane.rules.registry import TABLES

__all__ = [
    "DATA_DIR",
    "TABLES",
    "Rule",
    "RuleBook",
    "RuleDataError",
    "RuleStatus",
    "RuleTable",
    "default_book",
    "load_table",
]
