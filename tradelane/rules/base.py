"""What a rule row and a rule table are: the `Rule` base every schema extends, and the validated `RuleTable`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

DATA_DIR = Path(__file__).parent / "data"

REQUIRED_KEYS = ("source", "valid_from", "valid_to", "status")
"""Keys every row states, in the row itself or in its file's `defaults`; `valid_to: null` says open-ended."""

class RuleStatus(StrEnum):
    """How firm a rule's figure is, as the reference marks it."""

    SOURCED = "sourced"
    """Stated by the cited source."""
    VERIFY = "verify"
    """Marked (verify) in the reference: weaker source or general knowledge; check before relying on it."""
    GENERAL = "general"
    """Marked (general): common trade practice rather than a specific regulation."""
    SAMPLE = "sample"
    """Illustrative sample data (e.g. a few duty rates); replace with the full licensed table."""


class Rule(BaseModel):
    """One row of a rule table, in force from `valid_from` (inclusive) to `valid_to` (exclusive)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table_name: ClassVar[str]
    """The table the model validates (file `data/<table_name>.yaml`); each schema sets it, `registry` lists them."""

    source: str = Field(min_length=3)
    valid_from: date
    valid_to: date | None = None
    status: RuleStatus = RuleStatus.SOURCED
    note: str = ""

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on < self.valid_to)

    def key(self) -> tuple[Any, ...] | None:
        """What a row is about (e.g. a country); two rows with the same key must not overlap in time.

        None (the default) skips the overlap check, for tables where several rows may apply at once.
        """
        return None

    def cite(self) -> str:
        """`source [status]`, for reasons and findings."""
        mark = "" if self.status is RuleStatus.SOURCED else f" [{self.status}]"
        return f"{self.source}{mark}"


R = TypeVar("R", bound=Rule)


class RuleDataError(ValueError):
    """A rule file that cannot be used; the message names the file, row and field."""


class RuleTable(Generic[R]):
    """The validated rows of one table, with lookups by ship date."""

    def __init__(self, name: str, rows: Iterable[R], description: str = "") -> None:
        self.name = name
        self.description = description
        self.rows: tuple[R, ...] = tuple(rows)
        self._check_overlaps()

    def __iter__(self) -> Iterator[R]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def in_force(self, on: date) -> list[R]:
        return [row for row in self.rows if row.in_force(on)]

    def where(self, on: date, **fields: Any) -> list[R]:
        """Rows in force on `on` whose fields equal the given values."""
        return [row for row in self.rows if row.in_force(on) and all(getattr(row, k) == v for k, v in fields.items())]

    def first(self, on: date, **fields: Any) -> R | None:
        found = self.where(on, **fields)
        return found[0] if found else None

    def _check_overlaps(self) -> None:
        by_key: dict[tuple[Any, ...], list[R]] = {}
        for row in self.rows:
            key = row.key()
            if key is not None:
                by_key.setdefault(key, []).append(row)
        for key, rows in by_key.items():
            rows = sorted(rows, key=lambda r: r.valid_from)
            for before, after in zip(rows, rows[1:]):
                if before.valid_to is None or before.valid_to > after.valid_from:
                    raise RuleDataError(
                        f"{self.name}: rows for {key} overlap: one from {before.valid_from} to "
                        f"{before.valid_to or 'open'}, another from {after.valid_from}"
                    )


def _check_required_keys(path: Path, rows: list[dict[str, Any]]) -> None:
    """Every row states source, valid_from, valid_to and status (a model default would hide a forgotten one)."""
    for i, row in enumerate(rows):
        missing = [key for key in REQUIRED_KEYS if key not in row]
        if missing:
            raise RuleDataError(f"{path.name}: rules.{i}: {', '.join(missing)} missing: every row states "
                                f"{', '.join(REQUIRED_KEYS)} (valid_to: null when open-ended), in the row or in "
                                "the file's defaults")


def load_table(path: Path, model: type[R]) -> RuleTable[R]:
    """Read and validate one rule file; errors name the file, the row and the field."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise RuleDataError(f"{path}: cannot read: {err}") from err
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise RuleDataError(f"{path}: expected a mapping with a 'rules' list")
    defaults = document.get("defaults") or {}
    rows = [{**defaults, **row} for row in document["rules"]]
    _check_required_keys(path, rows)
    try:
        # list[model] is built at run time from the model passed in, which mypy cannot read as a type expression.
        parsed = TypeAdapter(list[model]).validate_python(rows)  # type: ignore[valid-type]
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RuleDataError(f"{path.name}: rules.{where}: {first['msg']} ({err.error_count()} error(s))") from err
    return RuleTable(document.get("table", path.stem), parsed, description=document.get("description", ""))
