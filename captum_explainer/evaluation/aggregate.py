"""The one function that turns per-pair and per-image values into a table's numbers: the
demo, ``evaluate``, ``compare`` and the benchmark call it, so that a column means one thing
everywhere.

How each column is averaged (also :data:`AVERAGING_NOTE`, printed in every report):

- per-image values (the mask scores: F1, IoU, AUC, coverage, absent-class mass, the class
  scores; the saliency metric): the mean over images;
- per-pair values (one per (image, labelled class) pair: the pointing games, deletion,
  insertion, ROAD and their controls, blank and canvas scores): the mean over each class's
  pairs, then the mean over the classes present (classes count alike, whatever their
  frequency: the pointing games' convention, TorchRay's);
- the class-specificity columns: the class-specificity matrix averaged over the images that
  hold each class, then its diagonal and off-diagonal means.
"""

from __future__ import annotations

from typing import Any

import torch

from captum_explainer.metrics import per_class_mean

#: How the report's numbers are averaged, in one sentence for its notes.
AVERAGING_NOTE = (
    "Averaging: per-image columns (mask scores, saliency metric) are means over images; "
    "per-pair columns (pointing games, deletion, insertion, ROAD and their controls) are "
    "means over each class's (image, class) pairs, then over the classes."
)


def summarize(
    per_image: dict[str, torch.Tensor],
    per_pair: dict[str, torch.Tensor],
    pair_classes: torch.Tensor,
    num_classes: int,
) -> dict[str, float]:
    """Image means of the per-image values; per-class means, then their mean, of the
    per-pair values (the pointing games' convention)."""
    metrics = {name: float(values.float().nanmean()) for name, values in per_image.items()}
    for name, values in per_pair.items():
        metrics[name] = float(per_class_mean(values, pair_classes, num_classes).nanmean())
    return metrics


#: The class-specificity columns of a row: the matrix's diagonal and off-diagonal means, and
#: the levels to read them against: each class's score unmasked and on a blank image.
SPECIFICITY_COLUMNS = (
    "specificity_diagonal",
    "specificity_off_diagonal",
    "specificity_unmasked",
    "specificity_blank",
)


def specificity_columns(
    matrix_sum: torch.Tensor | None,
    counts: torch.Tensor | None,
    blank: torch.Tensor | None,
) -> dict[str, float]:
    """The class-specificity columns from the sums of the ``(K, K + 1)`` matrix (the last
    column the unmasked score) over the images holding each class, their ``(K,)`` counts and
    the ``(K,)`` blank-image scores; NaN where specificity was not computed."""
    row = dict.fromkeys(SPECIFICITY_COLUMNS, float("nan"))
    if matrix_sum is None or counts is None:
        return row
    means = matrix_sum / counts.clamp(min=1)[:, None]
    matrix, unmasked = means[:, :-1], means[:, -1]
    valid = counts > 0
    off = matrix[valid][:, valid][~torch.eye(int(valid.sum()), dtype=torch.bool)]
    row["specificity_diagonal"] = float(matrix.diagonal()[valid].mean())
    row["specificity_off_diagonal"] = float(off.mean()) if off.numel() else float("nan")
    row["specificity_unmasked"] = float(unmasked[valid].mean())
    if blank is not None:
        row["specificity_blank"] = float(blank[valid].mean())
    return row


def method_row(
    name: str,
    per_image: dict[str, torch.Tensor],
    per_pair: dict[str, torch.Tensor],
    pair_classes: torch.Tensor,
    num_classes: int,
    **extra: Any,
) -> dict[str, Any]:
    """One method's row: ``{"method": name, **extra}`` then :func:`summarize` of its values.

    Example:
        >>> import torch
        >>> from captum_explainer.evaluation.aggregate import method_row
        >>> per_pair = {"deletion_auc": torch.tensor([0.1, 0.3, 0.8])}  # classes 0, 0, 1
        >>> row = method_row("m", {}, per_pair, torch.tensor([0, 0, 1]), 2)
        >>> round(row["deletion_auc"], 3)  # class 0's mean 0.2 and class 1's 0.8, averaged
        0.5
    """
    return {"method": name, **extra, **summarize(per_image, per_pair, pair_classes, num_classes)}
