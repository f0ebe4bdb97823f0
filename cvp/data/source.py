"""Reading one export file (CSV/TSV/Parquet) into text columns named by warehouse column.

Everything that makes a whole file unreadable, or readable only by guessing, is refused here with
one `IngestError` line saying what is wrong, where, and what to do; nothing has been written at
that point. Row-level problems are left to `cvp.data.ingest`, which quarantines them.

Decided per file (see `cvp.data.parsing` for numbers and dates):
- encoding: a byte-order mark decides (UTF-8, UTF-16, UTF-32); otherwise UTF-8, or `--encoding`;
- separator: comma, semicolon, tab or pipe, whichever splits the first lines consistently into
  the most columns, or `--sep`;
- header: detected from the first line's names, or `--header/--no-header`.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from cvp.contract.options import AttributeOptions
from cvp.data import schema
from cvp.data.parsing import FormatAmbiguity, comma_number_example, day_month_order
from cvp.data.rules import column_kind, required_columns
from cvp.errors import BadInput

INGESTIBLE_TABLES: tuple[str, ...] = tuple(
    t for t in schema.RAW_TABLES if t != "customer_identities"
)
# the order assumed for a headerless file without a mapping
HEADERLESS_ORDER: dict[str, tuple[str, ...]] = {
    "transactions": ("customer_id", "ts", "amount", "category", "channel", "discount"),
}
# friendlier names accepted on the left of --map
TARGET_ALIASES = {"timestamp": "ts", "time": "ts", "customer": "customer_id"}
SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SEPARATOR_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "pipe": "|"}
TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".psv"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
PARQUET_MAGIC = b"PAR1"
ZIP_MAGIC = b"PK\x03\x04"
BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
SNIFF_LINES = 50


class IngestError(BadInput):
    """The file cannot be imported at all (as opposed to individual bad rows)."""


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file; None means detect."""

    mapping: Mapping[str, str] = field(default_factory=dict)
    header: bool | None = None
    sep: str | None = None
    decimal: str | None = None
    encoding: str | None = None
    date_format: str | None = None
    attributes: AttributeOptions | None = None  # customers only: cvp.contract.attributes

    def as_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "mapping": dict(self.mapping),
            "header": self.header,
            "sep": self.sep,
            "decimal": self.decimal,
            "encoding": self.encoding,
            "date_format": self.date_format,
        }
        if self.attributes is not None:
            params["attributes"] = self.attributes.as_params()
        return params


@dataclass
class SourceFile:
    """A file read as text, with what was decided about it."""

    path: Path
    table: str
    frame: pd.DataFrame  # text columns named by target column; index = row number from 1
    options: ReadOptions
    kind: str = "csv"
    encoding: str | None = None
    sep: str | None = None
    date_orders: dict[str, str | None] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # customers: the columns kept as typed attributes, and their types and roles
    attribute_frame: pd.DataFrame | None = None
    attributes: list[Any] = field(default_factory=list)

    def description(self) -> str:
        """How the file was read, for the user to check the guesses."""
        parts = [self.kind]
        if self.encoding:
            parts.append(self.encoding)
        if self.sep:
            parts.append(f"{SEPARATORS.get(self.sep, self.sep)}-separated")
        if self.options.decimal:
            parts.append(f"decimal mark '{self.options.decimal}'")
        if self.options.date_format:
            parts.append(f"dates {self.options.date_format}")
        orders = {c: o for c, o in self.date_orders.items() if o}
        for column, order in orders.items():
            parts.append(f"{column} {'day' if order == 'dmy' else 'month'}-first")
        return ", ".join(parts)


def target_columns(table: str) -> list[str]:
    columns = [c.name for c in schema.metadata.tables[table].columns]
    return columns + (list(schema.PII_COLUMNS) if table == "customers" else [])


def check_table(table: str) -> None:
    if table not in INGESTIBLE_TABLES:
        raise IngestError(
            f"unknown table {table!r}; choose one of {', '.join(INGESTIBLE_TABLES)} "
            f"(cvp ingest TABLE FILE)"
        )


def check_options(table: str, options: ReadOptions) -> ReadOptions:
    """Normalise the options and refuse the ones that cannot be right, before any file is read."""
    check_table(table)
    valid = target_columns(table)
    mapping: dict[str, str] = {}
    for target, source in options.mapping.items():
        name = TARGET_ALIASES.get(target.strip(), target.strip())
        if name not in valid:
            aliases = ", ".join(f"{a}={t}" for a, t in TARGET_ALIASES.items() if t in valid)
            raise IngestError(
                f"--map {target}={source}: {table} has no column {target!r}; valid columns: "
                f"{', '.join(valid)} (aliases: {aliases})"
            )
        if name in mapping:
            raise IngestError(f"--map: column {name!r} is mapped twice; map it once")
        mapping[name] = source.strip()
    sep = options.sep
    if sep is not None:
        sep = SEPARATOR_NAMES.get(sep.lower(), sep)
        if sep not in SEPARATORS:
            raise IngestError(
                f"--sep {options.sep!r}: use one of comma, semicolon, tab, pipe (or , ; |)"
            )
    if options.decimal not in (None, ".", ","):
        raise IngestError(f"--decimal {options.decimal!r}: use '.' or ','")
    if options.encoding is not None:
        try:
            codecs.lookup(options.encoding)
        except LookupError as exc:
            raise IngestError(
                f"--encoding {options.encoding!r}: unknown encoding; e.g. utf-8, latin-1, "
                f"cp1252, utf-16"
            ) from exc
    if options.date_format is not None and "%" not in options.date_format:
        raise IngestError(
            f"--date-format {options.date_format!r}: not a strftime format; e.g. %d/%m/%Y"
        )
    if options.attributes is not None and options.attributes.named() and table != "customers":
        raise IngestError(
            "--label, --type, --sensitive, --plan and --fee describe customer attributes: "
            "use them with cvp ingest customers FILE"
        )
    return ReadOptions(
        mapping,
        options.header,
        sep,
        options.decimal,
        options.encoding,
        options.date_format,
        options.attributes,
    )


def read_source(path: Path, table: str, options: ReadOptions | None = None) -> SourceFile:
    """Read and check a whole file; raises `IngestError` with one line if it cannot be used."""
    options = check_options(table, options or ReadOptions())
    if not path.exists():
        raise IngestError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise IngestError(
            f"{path}: is a directory; give one file per cvp ingest (e.g. {path / 'part.csv'})"
        )
    if not path.is_file():
        raise IngestError(f"{path}: not a regular file; give a CSV, TSV or Parquet file")
    data = path.read_bytes()
    if not data.strip():
        raise IngestError(f"{path}: the file is empty; nothing to import (check the export)")
    suffix = path.suffix.lower()
    if data.startswith(ZIP_MAGIC):
        raise IngestError(
            f"{path}: is a ZIP archive or Excel workbook, not CSV; export the sheet as CSV"
        )
    if suffix in PARQUET_SUFFIXES or data.startswith(PARQUET_MAGIC):
        source = _read_parquet(path, table, options)
    elif suffix in TEXT_SUFFIXES:
        source = _read_text(path, data, table, options)
    else:
        raise IngestError(
            f"{path}: unsupported file type {suffix!r}; use .csv, .tsv, .txt or .parquet"
        )
    _check_formats(source)
    if source.attribute_frame is not None and not source.attribute_frame.empty:
        from cvp.contract.attributes import plan_attributes

        source.attributes = plan_attributes(
            path,
            source.attribute_frame,
            options.attributes or AttributeOptions(),
            options.decimal,
        )
    return source


def _decode(path: Path, data: bytes, encoding: str | None) -> tuple[str, str]:
    """The text of the file and the encoding used."""
    bom = next((name for mark, name in BOMS if data.startswith(mark)), None)
    chosen = encoding or bom or "utf-8"
    if encoding is None and bom is None and b"\x00" in data[:4096]:
        raise IngestError(
            f"{path}: contains NUL bytes: a binary file, or UTF-16 text without a byte-order "
            f"mark; export as CSV, or pass --encoding utf-16-le (or utf-16-be)"
        )
    try:
        text = data.decode(chosen)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        hint = (
            "pass --encoding latin-1 (or cp1252) if it comes from a Windows/latin-1 system"
            if encoding is None
            else "check --encoding"
        )
        raise IngestError(
            f"{path}: not valid {chosen} (byte 0x{data[exc.start]:02x} on line {line}); {hint}"
        ) from exc
    if "\x00" in text:
        raise IngestError(
            f"{path}: contains NUL characters when read as {chosen}; check --encoding "
            f"(UTF-16 exports need --encoding utf-16)"
        )
    return text.lstrip("\ufeff"), chosen


def _detect_separator(path: Path, text: str, suffix: str) -> str:
    lines = [line for line in text.splitlines()[:SNIFF_LINES] if line.strip()]
    best, best_fields, consistent_found = ",", 1, False
    preferred = ["\t", ",", ";", "|"] if suffix == ".tsv" else [",", ";", "\t", "|"]
    for sep in preferred:
        try:
            counts = [len(row) for row in csv.reader(lines, delimiter=sep)]
        except csv.Error:
            continue
        consistent = len(set(counts)) == 1
        fields = counts[0] if counts else 1
        if fields <= 1:
            continue
        if consistent and (not consistent_found or fields > best_fields):
            best, best_fields, consistent_found = sep, fields, True
        elif not consistent_found and fields > best_fields:
            best, best_fields = sep, fields
    return best


def _looks_like_header(first_line: str, sep: str, table: str, mapping: Mapping[str, str]) -> bool:
    first = next(csv.reader([first_line], delimiter=sep), [])
    names = {c.strip().lower() for c in first}
    expected = {c.lower() for c in (*target_columns(table), *mapping.values())}
    return bool(names & expected)


_PANDAS_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _read_text(path: Path, data: bytes, table: str, options: ReadOptions) -> SourceFile:
    text, encoding = _decode(path, data, options.encoding)
    sep = options.sep or _detect_separator(path, text, path.suffix.lower())
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    header = options.header
    if header is None:
        header = _looks_like_header(first_line, sep, table, options.mapping)
    _check_field_counts(path, text, sep)
    try:
        raw = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=0 if header else None,
            dtype="string",
            keep_default_na=False,
            skip_blank_lines=True,
            on_bad_lines="error",
        )
    except pd.errors.ParserError as exc:
        found = _PANDAS_FIELDS.search(str(exc))
        where = (
            f"line {found.group(2)} has {found.group(3)} fields, the file {found.group(1)}"
            if found
            else str(exc).strip().splitlines()[-1]
        )
        raise IngestError(
            f"{path}: malformed file: {where} (separator {SEPARATORS.get(sep, sep)}); quote "
            f"values that contain the separator, or pass --sep"
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise IngestError(f"{path}: the file is empty; nothing to import") from exc
    if raw.empty:
        raise IngestError(
            f"{path}: has a header but no data rows; nothing to import (check the export)"
        )
    if not header:
        raw.columns = [str(c) for c in raw.columns]
        if not options.mapping:
            order = HEADERLESS_ORDER.get(table, required_columns(table))
            raw.columns = list(order[: raw.shape[1]]) + [
                f"extra_{i}" for i in range(raw.shape[1] - len(order))
            ]
    source = SourceFile(path, table, raw, options, "csv", encoding, sep)
    source.frame = _select_columns(source, raw)
    return source


def _check_field_counts(path: Path, text: str, sep: str) -> None:
    """Refuse a row with more fields than the first line: pandas would silently turn the first
    column into an index or drop the extra values. Shorter rows are padded with missing values,
    which the row rules then quarantine if they matter."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    expected = None
    try:
        for record in reader:
            if not any(field.strip() for field in record):
                continue
            if expected is None:
                expected = len(record)
            elif len(record) > expected:
                raise IngestError(
                    f"{path}: malformed file: line {reader.line_num} has {len(record)} fields, "
                    f"the first line {expected} (separator {SEPARATORS.get(sep, sep)}); quote "
                    f"values that contain the separator, or pass --sep"
                )
    except csv.Error as exc:
        raise IngestError(
            f"{path}: malformed file: {exc} near line {reader.line_num}; check the quoting"
        ) from exc


def _read_parquet(path: Path, table: str, options: ReadOptions) -> SourceFile:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        arrow = pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IngestError(
            f"{path}: not a readable Parquet file ({detail}); export it again, or as CSV"
        ) from exc
    if arrow.num_rows == 0:
        raise IngestError(f"{path}: the Parquet file has no rows; nothing to import")
    columns: dict[str, pd.Series] = {}
    unreadable: dict[str, str] = {}
    for name, column in zip(arrow.column_names, arrow.columns, strict=True):
        try:
            as_text = pc.cast(column, pa.string())
        except (pa.ArrowException, ValueError):
            unreadable[str(name)] = str(column.type)
            continue
        columns[str(name)] = pd.Series(as_text.to_pylist(), dtype="string")
    raw = pd.DataFrame(columns)
    source = SourceFile(path, table, raw, options, "parquet")
    source.frame = _select_columns(source, raw, unreadable)
    return source


def _select_columns(
    source: SourceFile, raw: pd.DataFrame, unreadable: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Rename mapped columns, keep the table's columns, refuse when a required one is missing."""
    path, table, mapping = source.path, source.table, source.options.mapping
    unreadable = unreadable or {}
    raw.columns = [str(c).strip() for c in raw.columns]
    available = list(raw.columns) + list(unreadable)
    missing_sources = [s for s in mapping.values() if s not in available]
    if missing_sources:
        raise IngestError(
            f"{path}: mapped source column(s) {missing_sources} not in file columns "
            f"{available}; fix the --map target=source pairs"
        )
    renames = {source_name: target for target, source_name in mapping.items()}
    renamed = raw.rename(columns=renames)
    allowed = set(target_columns(table))
    keep = [c for c in renamed.columns if c in allowed]
    broken = {renames.get(name, name): kind for name, kind in unreadable.items()}
    for target, kind in broken.items():
        if target in allowed:
            raise IngestError(
                f"{path}: column {target} is {kind} in the Parquet file and cannot be read as "
                f"{column_kind(table, target)}; write it as a plain column"
            )
    missing = [c for c in required_columns(table) if c not in keep]
    if missing:
        raise IngestError(
            f"{path}: required column(s) {missing} for table {table!r} not found; "
            f"map them with --map target=source (file has {available})"
        )
    ignored = [c for c in raw.columns if renames.get(c, c) not in allowed]
    if table == "customers":  # every other column is kept as a typed attribute
        named = (source.options.attributes or AttributeOptions()).named()
        kept = [
            c
            for c in renamed.columns
            if c != "customer_id"
            and c not in schema.PII_COLUMNS
            and (c not in allowed or c in named)
        ]
        source.attribute_frame = renamed[kept].copy()
        source.attribute_frame.index = pd.RangeIndex(1, len(renamed) + 1, name="row_number")
        ignored = []
    if ignored:
        source.warnings.append(
            f"file columns not imported (no such column in {table}): {', '.join(ignored)}"
        )
    frame = renamed[keep].copy()
    if frame.columns.duplicated().any():
        twice = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise IngestError(
            f"{path}: column(s) {twice} appear twice (a file column and a --map target); "
            f"map only one of them"
        )
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="row_number")
    return frame


def _check_formats(source: SourceFile) -> None:
    """Refuse numbers and dates whose convention the file leaves open (see cvp.data.parsing)."""
    path, frame, options = source.path, source.frame, source.options
    for column in frame.columns:
        kind = column_kind(source.table, column)
        if kind in ("number", "integer") and options.decimal is None:
            example = comma_number_example(frame[column])
            if example is not None:
                value, row = example
                raise IngestError(
                    f"{path}: column {column} has numbers written with a comma ('{value}' at "
                    f"row {row}); say what the comma means: --decimal , (decimal comma, '.' "
                    f"groups thousands) or --decimal . (comma groups thousands)"
                )
        if kind in ("datetime", "date"):
            if options.date_format:
                source.date_orders[column] = None
                continue
            try:
                source.date_orders[column] = day_month_order(frame[column], column)
            except FormatAmbiguity as exc:
                raise IngestError(f"{path}: {exc}") from exc
