"""Tables: every table the package prints or writes is made here, from plain rows (one
dictionary per method), so the tables know nothing of how the numbers were made."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any


def format_value(value: Any, digits: int = 3, spec: str | None = None) -> str:
    """A cell's text: floats with ``digits`` decimals (or the format ``spec``), NaN as ``nan``."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return format(value, spec) if spec else f"{value:.{digits}f}"
    return str(value)


def uniform_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows with every column any of them has (in first-seen order), NaN where a row has no
    value: methods that skip a score (undesirable pixels' per-class scores) still fit a table."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    return [{c: row.get(c, float("nan")) for c in columns} for row in rows]


def markdown_table(
    rows: Sequence[Mapping[str, Any]],
    digits: int = 3,
    headers: Mapping[str, str] | None = None,
    formats: Mapping[str, str] | None = None,
) -> str:
    """Rows (dictionaries with the same keys) as a markdown table.

    Args:
        digits: decimals of float cells.
        headers: column key -> header text (default: the key).
        formats: column key -> format spec for its floats (e.g. ``".4g"``).
    """
    columns = list(rows[0])
    headers, formats = headers or {}, formats or {}
    lines = [
        "| " + " | ".join(headers.get(c, c) for c in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows:
        cells = (format_value(row[c], digits, formats.get(c)) for c in columns)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def csv_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows (dictionaries with the same keys) as CSV text."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
