"""Sales history import: CSV or JSON in, validated records out, every problem named by row and field.

CSV: a header with `day` (or `date`), `sku`, `market`, `quantity`, one row per SKU, market and day. JSON:
`{"sales": [{"day": ..., "sku": ..., "market": ..., "quantity": ...}]}`. An import is all or nothing.
"""

import csv
import io
from collections.abc import Iterable

from pydantic import BaseModel, ValidationError

from tradelane.inventory.models import SaleRecord

MAX_ROWS = 200_000
COLUMNS = ("day", "sku", "market", "quantity")


class SalesImportError(ValueError):
    """Every problem of an import, as `{"field", "message"}` (the API's error fields)."""

    def __init__(self, fields: list[dict[str, str]]) -> None:
        self.fields = fields[:50]
        more = f" (and {len(fields) - 50} more)" if len(fields) > 50 else ""
        super().__init__("; ".join(f"{f['field']}: {f['message']}" for f in self.fields) + more)


class SalesImport(BaseModel):
    sales: list[SaleRecord]


def _path(prefix: str, loc: Iterable[int | str]) -> str:
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def parse_csv(text: str) -> list[SaleRecord]:
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _parse_rows(reader)
    except csv.Error as err:  # e.g. a bare carriage return inside an unquoted value
        problem = {"field": "body", "message": f"after line {reader.line_num}: not valid CSV: {err}"}
        raise SalesImportError([problem]) from None


def _parse_rows(reader: "csv.DictReader[str]") -> list[SaleRecord]:
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    header = ["day" if h == "date" else h for h in header]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise SalesImportError([{"field": "header", "message": f"missing column(s) {', '.join(missing)}; "
                                 f"expected {','.join(COLUMNS)}"}])
    # csv.DictReader would keep the last of two same-named columns without a word.
    repeated = [c for c in COLUMNS if header.count(c) > 1]
    if repeated:
        raise SalesImportError([{"field": "header", "message": f"column(s) {', '.join(repeated)} appear more "
                                 f"than once (`date` is another name for `day`)"}])
    reader.fieldnames = header
    records, problems = [], []
    for index, row in enumerate(reader):
        if index >= MAX_ROWS:
            raise SalesImportError([{"field": "rows", "message": f"more than {MAX_ROWS} rows; split the import"}])
        # Values beyond the header (csv.DictReader's restkey None) are mostly an unquoted "1,200": importing the
        # row would silently record 1. Empty ones are a trailing comma, harmless.
        if any(v.strip() for v in row.get(None) or []):
            problems.append({"field": f"rows[{index}]", "message": f"line {reader.line_num}: more values than "
                             f"the header's {len(header)} columns; quote a value that contains a comma"})
            continue
        values = {c: (row.get(c) or "").strip() for c in COLUMNS}
        try:
            records.append(SaleRecord.model_validate(values))
        except ValidationError as err:
            # `line_num`, not the row's index: blank lines are skipped and quoted values may span lines.
            problems += [{"field": _path(f"rows[{index}]", e["loc"]),
                          "message": f"line {reader.line_num}: {e['msg'].removeprefix('Value error, ')}"}
                         for e in err.errors()]
    if problems:
        raise SalesImportError(problems)
    return _checked(records, "rows")


def parse_json(data: object) -> list[SaleRecord]:
    try:
        records = SalesImport.model_validate(data).sales
    except ValidationError as err:
        raise SalesImportError([{"field": _path("", e["loc"]).lstrip(".") or "body",
                                 "message": e["msg"].removeprefix("Value error, ")}
                                for e in err.errors()]) from None
    if len(records) > MAX_ROWS:
        raise SalesImportError([{"field": "sales", "message": f"more than {MAX_ROWS} rows; split the import"}])
    return _checked(records, "sales")


def _checked(records: list[SaleRecord], prefix: str) -> list[SaleRecord]:
    if not records:
        raise SalesImportError([{"field": prefix, "message": "no sales rows"}])
    seen: dict[tuple[str, str, object], int] = {}
    problems = []
    for index, rec in enumerate(records):
        key = (rec.sku, rec.market, rec.day)
        if key in seen:
            problems.append({"field": f"{prefix}[{index}]",
                             "message": f"{rec.sku} {rec.market} {rec.day} repeats {prefix}[{seen[key]}]"})
        seen.setdefault(key, index)
    if problems:
        raise SalesImportError(problems)
    return records


def check_known(records: list[SaleRecord], known_skus: set[str], prefix: str) -> None:
    """Sales of a SKU that is not in the catalogue would never be forecast: refuse them by row."""
    problems = [{"field": f"{prefix}[{i}].sku", "message": f"'{r.sku}' is not in the SKU catalogue"}
                for i, r in enumerate(records) if r.sku not in known_skus]
    if problems:
        raise SalesImportError(problems)
