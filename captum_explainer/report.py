"""Tables and the HTML report: every table the package prints or writes is made here.

The report of a comparison holds figures as PNG, the tables, and the numbers as CSV/JSON.
Rows are plain dictionaries (one per method), so the report knows nothing of how the
numbers were made.

Everything is written into a temporary folder beside the destination and renamed into
place at the end, so a failed run never leaves a half-written report.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from captum_explainer.checkpoint import check_output_folder


def format_value(value: Any, digits: int = 3, spec: str | None = None) -> str:
    """A cell's text: floats with ``digits`` decimals (or the format ``spec``), NaN as ``nan``."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return format(value, spec) if spec else f"{value:.{digits}f}"
    return str(value)


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


def _table_html(rows: Sequence[Mapping[str, Any]], digits: int = 3) -> str:
    columns = list(rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = "".join(
            f"<td>{html.escape(format_value(row[column], digits))}</td>" for column in columns
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


STYLE = """
body { font-family: sans-serif; margin: 2em; max-width: 1400px; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
.note { color: #444; }
"""


def write_report(
    out_dir: str | os.PathLike,
    rows: Sequence[dict[str, Any]],
    figures: dict[str, Figure],
    title: str = "captum-explainer comparison",
    notes: Sequence[str] = (),
    extra_tables: dict[str, Sequence[dict]] | None = None,
) -> Path:
    """Write ``report.html``, one PNG per figure, ``results.csv`` and ``results.json``.

    Args:
        out_dir: the destination folder (replaced as a whole if it exists).
        rows: the main table, one dictionary per method (``ComparisonResult.rows()``).
        figures: file stem -> figure, shown in this order.
        title: the page title.
        notes: paragraphs shown under the title (plain text).
        extra_tables: heading -> rows, shown after the main table.

    Returns:
        The path of ``report.html``.
    """
    out_dir = check_output_folder(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        for stem, figure in figures.items():
            figure.savefig(staging / f"{stem}.png", dpi=110)
        (staging / "results.csv").write_text(csv_table(rows))
        (staging / "results.json").write_text(json.dumps(list(rows), indent=2, default=float))
        parts = [f"<h1>{html.escape(title)}</h1>"]
        parts += [f"<p class='note'>{html.escape(note)}</p>" for note in notes]
        parts += ["<h2>Numbers</h2>", _table_html(rows)]
        for heading, rows in (extra_tables or {}).items():
            if rows:
                parts += [f"<h2>{html.escape(heading)}</h2>", _table_html(rows)]
        for stem in figures:
            parts += [
                f"<h2>{html.escape(stem.replace('_', ' '))}</h2>",
                f"<img src='{stem}.png' alt='{stem}'>",
            ]
        page = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>"
        )
        (staging / "report.html").write_text(page)
        os.chmod(staging, 0o755)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir / "report.html"
