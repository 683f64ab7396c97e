"""How `tradelane` (and `make demo`) lay out what they print: tables whose ids are never cut, "none" instead of an
empty table, one format for times, text shortened at a word, and a live table that ends its line.

Widths come from the terminal, or 80 columns when the output is piped (rich's default; `COLUMNS` overrides it):
an id column keeps its full width and the other columns wrap, so a copied id is always the whole id.
"""

import copy
import dataclasses
import re
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from rich import box
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.live import Live
from rich.measure import Measurement
from rich.table import Column, Table

BREAK_AFTER = "-:./,"
"""Inside a compound token (`air_express:dhl_express`, `lithium-powerbank-cn-us`, `carrier.cancel_booking`) a
line may break after these: the token reads as its parts, where a break anywhere else cuts a word."""

_CHUNKS = re.compile(rf"(\s+|(?<=[{re.escape(BREAK_AFTER)}])(?=[^\s{re.escape(BREAK_AFTER)}]))")


class _PunctuationWrapper(textwrap.TextWrapper):
    def _split(self, text: str) -> list[str]:
        return [chunk for chunk in _CHUNKS.split(text) if chunk]


def wrap(text: str, width: int) -> str:
    """`text` in lines of at most `width`: broken at spaces, else after a `BREAK_AFTER` character inside a token,
    and only a part longer than the whole line anywhere."""
    lines = [_PunctuationWrapper(width=max(width, 1), break_long_words=True).wrap(line) for line in text.split("\n")]
    return "\n".join(part for parts in lines for part in (parts or [""]))


def longest_part(text: str) -> int:
    """The widest piece of `text` that `wrap` keeps whole."""
    return max((len(chunk) for chunk in _CHUNKS.split(text) if chunk.strip()), default=0)


class IdTable(Table):
    """A table whose first `ids` columns hold identifiers, laid out so that nothing a reader copies is cut.

    rich shrinks the widest columns first, evenly and below their longest word, so a long id became `SHP-D…` and a
    plan `air_express:dh` / `l_express` even at 160 columns. Here id columns keep their full width; the others
    shrink, widest first: down to their longest word (wrapping at spaces), then, with the columns one space apart,
    down to the longest part of a compound token (`air_express:` / `dhl_express`), and only then anywhere.
    """

    def __init__(self, *columns: str, title: str | None = None, ids: int = 1) -> None:
        super().__init__(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                         padding=(0, 1, 0, 0))
        self.ids = ids
        for header in columns:
            self.add_column(header, no_wrap=len(self.columns) < ids, overflow="fold")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        words = [self._measure(console, options, column) for column in self.columns]
        widths, padding = self._fit(words, options.max_width)
        laid_out = copy.copy(self)  # the table as given stays as it was: a live display lays it out at each refresh
        laid_out.padding = padding
        laid_out.columns = [
            dataclasses.replace(column, width=width, _cells=[
                wrap(cell, width) if width < words[i][0] and _plain(console, cell) else cell for cell in column.cells])
            for i, (column, width) in enumerate(zip(self.columns, widths, strict=True))]
        yield from Table.__rich_console__(laid_out, console, options)

    @staticmethod
    def _measure(console: Console, options: ConsoleOptions, column: Column) -> tuple[int, int, int]:
        """The column's longest word, the longest part of a compound token, and its longest line."""
        cells = [column.header, *column.cells]
        sizes = [Measurement.get(console, options, cell) for cell in cells]
        parts = [longest_part(cell) if _plain(console, cell) else Measurement.get(console, options, cell).minimum
                 for cell in cells]
        return max(size.minimum for size in sizes), max(parts), max(size.maximum for size in sizes)

    def _fit(self, words: list[tuple[int, int, int]], max_width: int) -> tuple[list[int], tuple[int, int, int, int]]:
        """Content widths (and cell padding) that fit `max_width`: each column's longest line where there is room;
        where even the longest words do not fit, the columns lose their padding (one space apart) first."""
        count = len(self.columns)
        frame = (count - 1 + (2 if self.show_edge else 0)) if self.box else 0
        padding = self.padding
        _, right, _, left = padding
        pad = count * (left + right) - (0 if self.pad_edge else left + right)
        if sum(word for word, _, _ in words) + frame + pad > max_width:
            padding, pad = (0, 0, 0, 0), 0
        widths = [longest for _, _, longest in words]
        excess = sum(widths) + frame + pad - max_width
        floors = ([word for word, _, _ in words], [part for _, part, _ in words], [1] * count)
        for floor in floors:
            while excess > 0:
                shrinkable = [i for i in range(self.ids, count) if widths[i] > floor[i]]
                if not shrinkable:
                    break
                widest = max(shrinkable, key=lambda i: widths[i])
                widths[widest] -= 1
                excess -= 1
        return widths, padding


def _plain(console: Console, cell: RenderableType) -> bool:
    """A string cell without markup: one `wrap` can lay out."""
    return isinstance(cell, str) and console.render_str(cell).plain == cell


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
