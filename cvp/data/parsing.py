"""Turning exported text into numbers and dates without guessing where guessing loses data.

Two conventions differ between the systems that export files, and both are decided once per
file and column, never per value:

- **Decimal mark.** `.` is the decimal point unless the user says otherwise. A number written
  with a comma (`12,5`, `1.234,56`, `1,234`) is refused until `--decimal` says what the comma
  means: with `--decimal ,` the comma is the decimal mark and `.`, spaces or `'` group
  thousands; with `--decimal .` the comma groups thousands (`1,234.5`).
- **Day/month order.** `2024-01-13`, `20240113` and `13 Jan 2024` are unambiguous. For
  `dd/mm/yyyy`-style values the order is inferred only when every value settles it (a first
  part above 12 means day first); if any value could be read both ways (`01/02/2024`), or the
  file mixes both orders, or years have two digits, the user states the format with
  `--date-format` (strftime syntax, e.g. `%d/%m/%Y`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd


class FormatAmbiguity(ValueError):
    """A column cannot be read without the user stating its format."""


NON_FINITE_WORDS = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
_COMMA_DECIMAL = re.compile(r"^[+-]?(\d{1,3}([.\s\u00a0\u202f']\d{3})+|\d+),\d+$")
_COMMA_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DOT_GROUPED_COMMA_DECIMAL = re.compile(r"^[+-]?\d{1,3}([.\s\u00a0\u202f']\d{3})+(,\d+)?$")
_PLAIN_COMMA_DECIMAL = re.compile(r"^[+-]?\d+(,\d+)?$")
_INTEGER_LIMIT = 2**53


def comma_number_example(text: pd.Series) -> tuple[str, int] | None:
    """The first value written with a comma as decimal mark or thousands separator."""
    values = text.dropna().str.strip()
    has_comma = values[values.str.contains(",", regex=False)]
    if has_comma.empty:
        return None
    shaped = has_comma[has_comma.str.match(_COMMA_DECIMAL) | has_comma.str.match(_COMMA_GROUPED)]
    if shaped.empty:
        return None
    return str(shaped.iloc[0]), int(shaped.index[0])


def normalise_numbers(text: pd.Series, decimal: str | None) -> pd.Series:
    """Rewrite numbers in the file's convention to plain `1234.5` text; others stay as they are
    (and then fail to parse)."""
    values = text.str.strip()
    if decimal == ",":
        grouped = values.str.match(_DOT_GROUPED_COMMA_DECIMAL).fillna(False)
        plain = values.str.match(_PLAIN_COMMA_DECIMAL).fillna(False)
        stripped = values.where(~grouped, values.str.replace(r"[.\s\u00a0\u202f']", "", regex=True))
        converted = stripped.str.replace(",", ".", regex=False)
        dotted = values.str.contains(".", regex=False).fillna(False) & ~grouped
        out = values.where(~(grouped | plain), converted)
        return out.where(~dotted, "not a number")  # with a decimal comma, '.' only groups
    if decimal == ".":
        grouped = values.str.match(_COMMA_GROUPED).fillna(False)
        return values.where(~grouped, values.str.replace(",", "", regex=False))
    return values


@dataclass
class ParsedNumbers:
    values: pd.Series  # float64, NaN where not parsed
    not_a_number: pd.Series  # bool
    not_finite: pd.Series  # bool


def parse_numbers(text: pd.Series, decimal: str | None) -> ParsedNumbers:
    normalised = normalise_numbers(text, decimal)
    parsed = pd.to_numeric(normalised, errors="coerce").astype("float64")
    present = text.notna()
    non_finite_word = normalised.str.lower().isin(NON_FINITE_WORDS).fillna(False)
    not_finite = present & (non_finite_word | np.isinf(parsed))
    not_a_number = present & parsed.isna() & ~not_finite
    return ParsedNumbers(parsed.where(np.isfinite(parsed)), not_a_number, not_finite)


def whole_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Integers from parsed floats: (Int64 values, not whole, too large)."""
    too_large = values.abs() >= _INTEGER_LIMIT
    fractional = values.notna() & ~too_large & (values != np.floor(values))
    ok = values.where(~(too_large | fractional))
    return ok.astype("Int64"), fractional.fillna(False), too_large.fillna(False)


_ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}"
    r"([T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?"
    r"\s*(Z|UTC|[+-]\d{2}(:?\d{2})?)?$"
)
_COMPACT = re.compile(r"^\d{8}$")
_YEAR_FIRST = re.compile(
    r"^(?P<year>\d{4})(?P<sep>[/.])(?P<month>\d{1,2})(?P=sep)(?P<day>\d{1,2})"
    r"(?P<time>[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?$"
)
_DAY_MONTH = re.compile(
    r"^(?P<a>\d{1,2})(?P<sep>[/.\-])(?P<b>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})"
    r"(?P<time>[T ]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?$"
)
_MONTH_NAME = re.compile(r"(?=.*[A-Za-z]{3,})(?=.*\d{4})")


def _shape(values: pd.Series) -> pd.Series:
    shape = pd.Series("other", index=values.index, dtype="object")
    shape[values.str.match(_ISO).fillna(False).to_numpy()] = "iso"
    shape[values.str.match(_COMPACT).fillna(False).to_numpy()] = "compact"
    shape[values.str.match(_YEAR_FIRST).fillna(False).to_numpy()] = "year_first"
    shape[values.str.match(_DAY_MONTH).fillna(False).to_numpy()] = "day_month"
    shape[values.isna().to_numpy()] = "blank"
    return shape


def day_month_order(text: pd.Series, column: str) -> str | None:
    """`dmy`, `mdy` or None (no `nn/nn/yyyy` values, or none whose order matters); raises
    `FormatAmbiguity` naming an example value and row when the file does not settle it."""
    values = text.str.strip()
    parts = values.str.extract(_DAY_MONTH)
    matched = parts["a"].notna()
    if not matched.any():
        return None
    a = pd.to_numeric(parts.loc[matched, "a"])
    b = pd.to_numeric(parts.loc[matched, "b"])
    short_year = parts.loc[matched, "year"].str.len() == 2
    separator = parts.loc[matched, "sep"].iloc[0]
    has_time = parts.loc[matched, "time"].notna().any()
    suffix = " %H:%M" if has_time else ""

    def example(mask: pd.Series) -> str:
        row = mask[mask].index[0]
        return f"'{values.loc[row]}' at row {row}"

    formats = f"'%d{separator}%m{separator}%Y{suffix}' or '%m{separator}%d{separator}%Y{suffix}'"
    if short_year.any():
        raise FormatAmbiguity(
            f"column {column}: two-digit years are ambiguous ({example(short_year)}); "
            f"state the format with --date-format, e.g. '%d{separator}%m{separator}%y'"
        )
    ambiguous = (a <= 12) & (b <= 12) & (a != b)
    day_first = (a > 12) & (b <= 12)
    month_first = (b > 12) & (a <= 12)
    if day_first.any() and month_first.any():
        raise FormatAmbiguity(
            f"column {column}: mixes day-first ({example(day_first)}) and month-first "
            f"({example(month_first)}) dates; state the format with --date-format ({formats})"
        )
    if ambiguous.any():
        settled = (
            f", although {example(day_first)} is day-first"
            if day_first.any()
            else f", although {example(month_first)} is month-first"
            if month_first.any()
            else ""
        )
        raise FormatAmbiguity(
            f"column {column}: day/month order is ambiguous ({example(ambiguous)} "
            f"could be either{settled}); state the format with --date-format ({formats})"
        )
    if day_first.any():
        return "dmy"
    if month_first.any():
        return "mdy"
    return None  # only values like 05/05/2024, which read the same both ways


def _iso_text(year: pd.Series, month: pd.Series, day: pd.Series, time: pd.Series) -> pd.Series:
    clock = time.fillna("").str.replace("T", " ", regex=False)
    return year + "-" + month.str.zfill(2) + "-" + day.str.zfill(2) + clock


def parse_datetimes(text: pd.Series, date_format: str | None, order: str | None) -> pd.Series:
    """Naive UTC timestamps; NaT where a value does not parse."""
    values = text.str.strip()
    if date_format:
        parsed = pd.to_datetime(values, format=date_format, errors="coerce", utc=True)
        return parsed.dt.tz_convert(None)
    shape = _shape(values)
    iso = values.where(shape == "iso")
    compact = shape == "compact"
    iso = iso.where(
        ~compact, values.str.replace(r"^(\d{4})(\d{2})(\d{2})$", r"\1-\2-\3", regex=True)
    )
    year_first = shape == "year_first"
    if year_first.any():
        parts = values.where(year_first).str.extract(_YEAR_FIRST)
        iso = iso.where(
            ~year_first, _iso_text(parts["year"], parts["month"], parts["day"], parts["time"])
        )
    day_month = shape == "day_month"
    if day_month.any():
        parts = values.where(day_month).str.extract(_DAY_MONTH)
        day, month = (parts["a"], parts["b"]) if order != "mdy" else (parts["b"], parts["a"])
        iso = iso.where(~day_month, _iso_text(parts["year"], month, day, parts["time"]))
    parsed = pd.to_datetime(iso, format="ISO8601", errors="coerce", utc=True)
    other = (shape == "other") & values.str.contains(_MONTH_NAME).fillna(False)
    if other.any():  # month names: '13 Jan 2024', 'Jan 13, 2024'
        named = pd.to_datetime(values.where(other), format="mixed", errors="coerce", utc=True)
        parsed = parsed.where(~other, named)
    return parsed.dt.tz_convert(None)
