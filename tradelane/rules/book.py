"""The rule book: every table of one data directory, each loaded and validated once, on first use."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tradelane.rules.base import DATA_DIR, R, RuleTable, load_table
from tradelane.rules.registry import TABLES

T = TypeVar("T")


class RuleBook:
    """All rule tables of one data directory, each loaded and validated once, on first use.

    Decision functions take a RuleBook, so tests and operators can point them at other data.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or DATA_DIR
        self._tables: dict[str, RuleTable[Any]] = {}
        self._extras: dict[str, Any] = {}

    def table(self, model: type[R]) -> RuleTable[R]:
        name = model.table_name
        if name not in self._tables:
            path = self.directory / f"{name}.yaml"
            if not path.exists() and self.directory != DATA_DIR:
                path = DATA_DIR / f"{name}.yaml"  # an operator's directory may override only some tables
            self._tables[name] = load_table(path, model)
        table: RuleTable[R] = self._tables[name]
        return table

    def cached(self, name: str, build: Callable[[], T]) -> T:
        """A derived object (an index, a parsed list) built once per book."""
        if name not in self._extras:
            self._extras[name] = build()
        found: T = self._extras[name]
        return found

    def load_all(self) -> dict[str, int]:
        """Load every registered table now (at worker start), so a bad file fails fast; rows per table."""
        return {name: len(self.table(model)) for name, model in sorted(TABLES.items())}


_DEFAULT: RuleBook | None = None


def default_book() -> RuleBook:
    """The rule book of the packaged data, shared by the whole process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = RuleBook()
    return _DEFAULT
