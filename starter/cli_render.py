"""How `tradelane` (and `make demo`) lay out what they print: tables whose ids are never cut, "none" instead of an
empty table, one format for times, text shortened at a word, and a live table that ends its line.

Widths come from the terminal, or 80 columns when the output is piped (rich's default; `COLUMNS` overrides it):
an id column keeps its full width and the other columns wrap, so a copied id is always the whole id.
"""

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from rich import box
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.live import Live
from rich.measure import Measurement
from rich.table import Table


class IdTable(Table):
    """A table whose first `ids` columns hold identifiers, laid out so that nothing a reader copies is cut.

    rich shrinks the widest columns first, evenly and below their longest word, so a long id became `SHP-D…` and a
    plan `air_express:dh` / `l_express` even at 160 columns. Here id columns keep their full width; the others
    shrink, widest first, down to their longest word (wrapping at spaces), and only when the width still does not
    suffice below it (a word then folds onto the next line rather than lose its end).
    """

    def __init__(self, *columns: str, title: str | None = None, ids: int = 1) -> None:
        super().__init__(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                         padding=(0, 1, 0, 0))
        self.ids = ids
        for header in columns:
            self.add_column(header, no_wrap=len(self.columns) < ids, overflow="fold")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        saved = [column.width for column in self.columns], self.padding
        widths, self.padding = self._fit(console, options)
        for column, width in zip(self.columns, widths, strict=True):
            column.width = width
        try:
            yield from super().__rich_console__(console, options)
        finally:
            for column, width in zip(self.columns, saved[0], strict=True):
                column.width = width
            self.padding = saved[1]

    def _fit(self, console: Console, options: ConsoleOptions) -> tuple[list[int], tuple[int, int, int, int]]:
        """Content widths (and cell padding) that fit `options.max_width`: each column's longest line where there
        is room; where even the longest words do not fit, columns lose their padding (one space apart) first."""
        shortest, longest = [], []
        for column in self.columns:
            sizes = [Measurement.get(console, options, cell) for cell in (column.header, *column.cells)]
            shortest.append(max(size.minimum for size in sizes))
            longest.append(max(size.maximum for size in sizes))
        count = len(self.columns)
        frame = (count - 1 + (2 if self.show_edge else 0)) if self.box else 0
        padding = self.padding
        _, right, _, left = padding
        pad = count * (left + right) - (0 if self.pad_edge else left + right)
        if sum(shortest) + frame + pad > options.max_width:
            padding, pad = (0, 0, 0, 0), 0
        widths = list(longest)
        excess = sum(widths) + frame + pad - options.max_width
        for floor in (shortest, [1] * count):  # first down to the longest word, then below it
            while excess > 0:
                shrinkable = [i for i in range(self.ids, count) if widths[i] > floor[i]]
                if not shrinkable:
                    break
                widest = max(shrinkable, key=lambda i: widths[i])
                widths[widest] -= 1
                excess -= 1
        return widths, padding


def table_of(*columns: str, title: str | None = None, ids: int = 1) -> IdTable:
    """A table whose first `ids` columns hold identifiers (never wrapped or shortened): see `IdTable`."""
    return IdTable(*columns, title=title, ids=ids)


def print_table(console: Console, t: Table, empty: str = "none") -> None:
    """The table, or `<title>: none` (one line) when it has no rows: an empty grid reads as a broken command."""
    if t.row_count:
        console.print(t)
    else:
        console.print(f"{t.title or 'rows'}: {empty}", highlight=False)


def when(value: str | None) -> str:
    """An API timestamp as every command prints it: `2026-12-07 14:32:05 UTC` (in UTC, whatever offset the API
    wrote); `-` when there is none."""
    if not value:
        return "-"
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:  # the API writes UTC; a naive time from an older read model is UTC as well
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def clip(text: str, width: int) -> str:
    """`text` shortened to at most `width` characters at a word boundary, ending in `…` when something was left
    out (a plain slice cuts words in half: "embargo (OF")."""
    return textwrap.shorten(text, width, placeholder=" …") if len(text) > width else text


@contextmanager
def live_display(renderable: RenderableType, console: Console) -> Iterator[Live]:
    """rich's `Live` that ends its last line: off a terminal (a pipe, a log file) rich prints the final table
    without a newline, so whatever is printed next (the next table's title) shares the bottom border's line."""
    with Live(renderable, console=console, refresh_per_second=4) as display:
        yield display
    if not console.is_terminal:
        console.line()
