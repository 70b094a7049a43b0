"""The HTML report: figures as PNG, the tables, and the numbers as CSV/JSON.

Everything is written into a temporary folder beside the destination and renamed into
place at the end, so a failed run never leaves a half-written report.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from captum_explainer.output_files import check_output_folder
from captum_explainer.report.tables import csv_table, format_value


@dataclass(frozen=True)
class Column:
    """How the report shows one column: its header, which way is better, what it means."""

    header: str
    better: str | None = None  # "higher", "lower" or None (no direction)
    meaning: str = ""
    #: What the number can and cannot show, printed under every table that has the column.
    caveat: str = ""


#: Every column the package reports. Unknown columns are shown as they are named.
COLUMNS: dict[str, Column] = {
    "method": Column("method"),
    "map": Column("map"),
    "images": Column("images"),
    "seconds_per_image": Column("s / image", "lower", "wall time per image, every class"),
    "time_relative": Column(
        "× reference time",
        "lower",
        "time per image over the time reference's (the method whose record says so: the "
        "Explainer's)",
    ),
    "peak_memory_mb": Column("peak MB", "lower", "memory above the start while it ran"),
    "mean_f1": Column("mean F1", "higher", "binary F1 at 0.25, 0.5, 0.75 against the foreground"),
    "continuous_f1": Column("cont. F1", "higher", "F1 of the soft map"),
    "discrete_iou": Column("IoU", "higher", "IoU averaged over thresholds 0.1 ... 0.9"),
    "continuous_iou": Column("cont. IoU", "higher", "sum min(m, s) / sum max(m, s)"),
    "auc": Column("ROC-AUC", "higher", "map values against the foreground"),
    "background_coverage": Column("background", "lower", "map mass outside the objects"),
    "object_coverage": Column("object", "higher", "share of the objects the map covers"),
    "pointing_game": Column("pointing", "higher", "the maximum lies on the class (TorchRay)"),
    "energy_pointing_game": Column("energy", "higher", "share of the map's mass on the class"),
    "class_iou": Column("class IoU", "higher", "each class's map against its own pixels"),
    "class_f1": Column("class F1", "higher", "binary F1 of each class's map, its own pixels"),
    "own_object_share": Column(
        "own-object share", "higher", "of a class's map on objects, the share on its own"
    ),
    "absent_class_mass": Column(
        "absent-class mass", "lower", "absent classes' map mass over present classes'"
    ),
    "saliency_metric": Column(
        "saliency metric",
        "lower",
        "Dabkowski & Gal",
        "Can show: whether the smallest box around the map's strongest part keeps the class. "
        "Cannot show: anything about maps whose evidence is not one compact region; a box "
        "cropped and resized is an image the classifier never saw.",
    ),
    "deletion_auc": Column(
        "deletion AUC",
        "lower",
        "score while the top pixels are deleted",
        "Can show: whether the pixels the map ranks first are the ones whose removal lowers "
        "the score. Cannot show: whether the fall comes from the evidence or from the "
        "removal itself (a hole shaped like the object can tell or hide the class: see ROAD "
        "and the mask-only check); it favours smooth maps, whose ranks remove whole regions "
        "(see the blurred column).",
    ),
    "insertion_auc": Column(
        "insertion AUC",
        "higher",
        "score while the top pixels are revealed",
        "Can show: whether revealing the map's first pixels on a canvas without the class's "
        "evidence restores the score. Cannot show: whether the revealed silhouette, not its "
        "content, brings the score back (the mask-only check); its level depends on the "
        "canvas (the canvas score beside it).",
    ),
    "road_morf": Column(
        "ROAD MoRF", "lower", "score with the top 10-90 % imputed (remove and debias)"
    ),
    "road_lerf": Column("ROAD LeRF", "higher", "score with the bottom 10-90 % imputed"),
    "road_combined": Column(
        "ROAD",
        "higher",
        "(LeRF - MoRF) / 2: removal without the leak",
        "Can show: the deletion game with the removed pixels imputed from their neighbours, "
        "so that the removal's shape leaks less of the class (Rong et al. 2022). Cannot show: "
        "faithfulness where the imputation fails (large holes are filled smoothly, a new "
        "kind of image); the classifier is not retrained.",
    ),
    "deletion_auc_blurred": Column(
        "deletion AUC, blurred",
        "lower",
        "deletion with the map blurred to the reference's roughness",
        "The sharpness control: the same game on the map blurred until it is as smooth as "
        "the reference's (Grad-CAM's; blur sigma beside it). A lead that appears or vanishes "
        "here was made by sharpness alone, not by where the map points.",
    ),
    "insertion_auc_blurred": Column(
        "insertion AUC, blurred",
        "higher",
        "insertion with the map blurred to the reference's roughness",
    ),
    "road_combined_blurred": Column(
        "ROAD, blurred", "higher", "ROAD with the map blurred to the reference's roughness"
    ),
    "blur_sigma": Column("blur sigma", None, "the control's Gaussian blur, in pixels"),
    "deletion_auc_truth": Column(
        "deletion AUC, ground truth",
        None,
        "deletion ranked by the objects' own masks (the same in every row)",
        "The localisation control: the score a perfect localiser gets. A map that deletes "
        "better than the truth wins by something other than finding the object; where the "
        "blurred truth beats the sharp one, the game rewards smooth maps, not localisation.",
    ),
    "insertion_auc_truth": Column(
        "insertion AUC, ground truth",
        None,
        "insertion ranked by the objects' own masks (the same in every row)",
    ),
    "deletion_auc_truth_blurred": Column(
        "deletion AUC, ground truth blurred",
        None,
        "deletion ranked by the objects' masks blurred to the reference's roughness",
    ),
    "insertion_auc_truth_blurred": Column(
        "insertion AUC, ground truth blurred",
        None,
        "insertion ranked by the objects' masks blurred to the reference's roughness",
    ),
    "mask_only_accuracy": Column(
        "mask-only accuracy",
        None,
        "a classifier of the binary masks alone (no image): held-out accuracy",
        "The leakage control: far above chance, a mask's shape alone gives its class away, "
        "and a game that masks the image with it can be read from the silhouette. Cannot "
        "show leakage where the classes themselves differ in shape: read it against the "
        "ground truth's accuracy (a perfect localiser's); few held-out masks make it noisy.",
    ),
    "mask_only_chance": Column("chance", None, "the most frequent class's held-out share"),
    "mask_only_truth": Column(
        "mask-only, ground truth", None, "the same check on the objects' own masks"
    ),
    "mask_only_test_masks": Column("held-out masks", None, "masks the accuracy is read on"),
    "blank_score": Column("blank image", None, "the score with every pixel deleted"),
    "canvas_score": Column("insertion canvas", None, "the score on insertion's canvas"),
    "specificity_diagonal": Column("specificity diag.", "higher", "own map keeps the class"),
    "specificity_off_diagonal": Column("specificity off", "lower", "other maps keep the class"),
    "specificity_unmasked": Column(
        "specificity unmasked", None, "the class's score on its images, no mask"
    ),
    "specificity_blank": Column("specificity blank", None, "the class's score on a blank image"),
    "diagonal": Column("diagonal", "higher", "class t masked by its own map"),
    "off_diagonal": Column("off-diagonal", "lower", "class t masked by other classes' maps"),
    "blank_image": Column("blank image", None, "the level an empty mask reaches"),
    "unmasked": Column("unmasked", None, "the level the whole image reaches"),
    "removed_fraction": Column("removed", None, "share of pixels removed"),
    "score_rise": Column("score rise", "higher", "rise of the target's score"),
    "became_top1": Column("became top-1", "higher", "images whose top class became the target"),
    "mode": Column("mode"),
    "check": Column("check"),
    "value": Column("value", None, "the check's number; the verdict reads it"),
    "layer": Column("randomised layer"),
    "verdict": Column("verdict"),
    "spearman_abs_randomised": Column(
        "Spearman |map|, randomised", "lower", "rank correlation with the original maps"
    ),
    "ssim_abs_randomised": Column("SSIM |map|, randomised", "lower", "structural similarity"),
    "random_logit_spearman": Column(
        "Spearman, random class", "lower", "own class's map against another class's map"
    ),
    "spearman": Column("Spearman", "lower", "rank correlation with the original maps"),
    "spearman_abs": Column("Spearman |map|", "lower", "the same on absolute values"),
    "ssim": Column("SSIM", "lower", "structural similarity with the original maps"),
    "ssim_abs": Column("SSIM |map|", "lower", "the same on absolute values"),
}


def _best_rows(rows: Sequence[Mapping[str, Any]], column: str) -> set[int]:
    """Indices of the rows holding the best value of a directed numeric column."""
    better = COLUMNS[column].better if column in COLUMNS else None
    values = [
        (i, row[column])
        for i, row in enumerate(rows)
        if isinstance(row[column], (int, float))
        and not isinstance(row[column], bool)
        and not math.isnan(row[column])
    ]
    if better is None or len(values) < 2:
        return set()
    pick = max if better == "higher" else min
    best = pick(v for _, v in values)
    return {i for i, v in values if v == best}


def _table_html(rows: Sequence[Mapping[str, Any]], digits: int = 3) -> str:
    """A table whose headers carry each column's direction (↑ higher is better, ↓ lower)
    and meaning (as a tooltip), with the best value of each directed column in bold."""
    columns = list(rows[0])
    head = []
    for c in columns:
        column = COLUMNS.get(c, Column(c.replace("_", " ")))
        arrow = {"higher": " ↑", "lower": " ↓"}.get(column.better or "", "")
        tip = f" title='{html.escape(column.meaning)}'" if column.meaning else ""
        head.append(f"<th{tip}>{html.escape(column.header)}{arrow}</th>")
    best = {c: _best_rows(rows, c) for c in columns}
    body = []
    for i, row in enumerate(rows):
        cells = []
        for c in columns:
            text = html.escape(format_value(row[c], digits))
            cells.append(f"<td class='best'>{text}</td>" if i in best[c] else f"<td>{text}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    table = f"<table><thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return table + _caveats_html(columns)


def _caveats_html(columns: Sequence[str]) -> str:
    """What each of the table's columns that has a caveat can and cannot show."""
    items = [
        f"<li><b>{html.escape(COLUMNS[c].header)}</b>: {html.escape(COLUMNS[c].caveat)}</li>"
        for c in columns
        if c in COLUMNS and COLUMNS[c].caveat
    ]
    return f"<ul class='caveats'>{''.join(items)}</ul>" if items else ""


def with_relative_time(
    rows: Sequence[Mapping[str, Any]], reference: str | None = None
) -> list[dict]:
    """The rows with ``time_relative`` (seconds per image over the ``reference`` method's)
    beside ``seconds_per_image``, where both are there; else as they are."""
    times = {row.get("method"): row.get("seconds_per_image") for row in rows}
    base = times.get(reference) if reference is not None else None
    if not base:
        return [dict(row) for row in rows]
    out = []
    for row in rows:
        new = {}
        for key, value in row.items():
            new[key] = value
            if key == "seconds_per_image":
                new["time_relative"] = float(value) / float(base)
        out.append(new)
    return out


STYLE = """
body { font-family: sans-serif; margin: 1.5em; max-width: 1240px; color: #222; }
h2 { margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 0.8em; max-width: 100%; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
th { background: #f3f3f3; vertical-align: bottom; max-width: 6.5em; }
td { white-space: nowrap; }
th:first-child, td:first-child { text-align: left; max-width: none; }
td.best { font-weight: bold; background: #e6f4e6; }
figure { margin: 0.5em 0 1.5em 0; }
figcaption { color: #444; font-size: 0.9em; max-width: 60em; }
img { max-width: 100%; border: 1px solid #eee; }
.note, .intro { color: #444; max-width: 60em; }
.caveats { color: #444; font-size: 0.85em; max-width: 60em; }
"""

#: The one sentence that opens each of the report's sections, by heading.
INTROS = {
    "Numbers": "How well each map lies on the objects (against the pixel-exact ground "
    "truth) and what it costs; ↑ marks columns where higher is better, ↓ lower, and the best "
    "value of each column is in bold.",
    "Faithfulness": "Whether the map points at what the classifier uses: its score while the "
    "map's top pixels are deleted (lower is better) or revealed on a canvas without the "
    "class's evidence (higher is better), beside the levels of the blank image and the canvas, "
    "and the controls every such number needs: the same games on the map blurred to "
    "Grad-CAM's smoothness, and whether the masks' shapes alone give the class away.",
    "Class specificity": "Whether a class's map keeps that class and not others: the score of "
    "class t on the image masked by t's own map (diagonal, higher is better) and by other "
    "classes' maps (off-diagonal, lower is better, ideally at the blank image's level).",
    "Undesirable-pixel recovery": "Whether removing what the undesirable-pixel map marks "
    "helps the target class, against removing as many random pixels.",
    "Sanity checks": "Whether each map depends on the model: Grad-CAM's and Integrated "
    "Gradients' maps once the classifier's layers are all randomised (rank correlation with "
    "the originals, must fall below 0.5), and whether the classifier's score on the "
    "Explainer's masked image comes from the evidence or from the mask's shape (must be "
    "below 0.5).",
    "Similarity after each step": "How similar each method's maps stay to the original ones "
    "as the classifier's layers are randomised, from the output down (lower means the map "
    "depends on the model, as it should).",
}


@dataclass(frozen=True)
class FigureText:
    """A figure's title and caption in the report."""

    title: str
    caption: str


def _figure_html(source: str, text: FigureText) -> str:
    return (
        f"<h2>{html.escape(text.title)}</h2><figure><img src='{source}' alt='{html.escape(text.title)}'>"
        f"<figcaption>{html.escape(text.caption)}</figcaption></figure>"
    )


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def write_report(
    out_dir: str | os.PathLike,
    rows: Sequence[dict[str, Any]],
    figures: dict[str, Figure],
    title: str = "captum-explainer comparison",
    notes: Sequence[str] = (),
    extra_tables: dict[str, Sequence[dict]] | None = None,
    captions: dict[str, FigureText] | None = None,
    self_contained: bool = False,
    time_reference: str | None = None,
) -> Path:
    """Write ``report.html``, one PNG per figure, ``results.csv`` and ``results.json``.

    Args:
        out_dir: the destination folder (replaced as a whole if it exists).
        rows: the main table, one dictionary per method (``ComparisonResult.rows()``); a
            column of time relative to ``time_reference`` (a method's name) is added where
            it is one of the rows.
        figures: file stem -> figure, shown in this order.
        title: the page title.
        notes: paragraphs shown under the title (plain text).
        extra_tables: heading -> rows, shown after the main table (each opens with its
            sentence from :data:`INTROS` where there is one).
        captions: file stem -> :class:`FigureText`; default: the stem as title, no caption.
        self_contained: embed every figure in ``report.html`` (one file to share); the PNGs
            are then not written beside it.
        time_reference: the method every time is given relative to (the evaluation passes
            the record that says so, the Explainer's).

    Returns:
        The path of ``report.html``.
    """
    out_dir = check_output_folder(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    captions = captions or {}
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        (staging / "results.csv").write_text(csv_table(rows))
        (staging / "results.json").write_text(json.dumps(list(rows), indent=2, default=float))
        parts = [f"<h1>{html.escape(title)}</h1>"]
        parts += [f"<p class='note'>{html.escape(note)}</p>" for note in notes]
        for heading, table in {
            "Numbers": with_relative_time(rows, time_reference),
            **(extra_tables or {}),
        }.items():
            if table:
                intro = INTROS.get(heading, "")
                parts += [f"<h2>{html.escape(heading)}</h2>"]
                parts += [f"<p class='intro'>{html.escape(intro)}</p>"] if intro else []
                parts += [_table_html(table)]
        for stem, figure in figures.items():
            png = _png(figure)
            if self_contained:
                source = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
            else:
                (staging / f"{stem}.png").write_bytes(png)
                source = f"{stem}.png"
            text = captions.get(stem, FigureText(stem.replace("_", " "), ""))
            parts.append(_figure_html(source, text))
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
