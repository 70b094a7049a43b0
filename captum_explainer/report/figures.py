"""Figures on top of ``captum.attr.visualization``.

Captum's ``visualize_image_attr`` takes channels-last numpy arrays and divides by the
map's maximum, so an all-zero map fails there. :func:`visualize_attribution` converts
tensors, de-normalises the image and draws an all-zero map as what it is: empty.
Figures are built without pyplot, so the user's matplotlib backend is never changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch
from captum.attr import visualization as captum_viz
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from captum_explainer.data.types import Normalization
from captum_explainer.maps import to_numpy_image
from captum_explainer.metrics.faithfulness import CausalCurves, ClassSpecificity
from captum_explainer.metrics.per_class import scale_class_maps


class ComparedMethod(Protocol):
    """What a figure reads of one method's result: its name and merged maps."""

    name: str
    merged: torch.Tensor  # (N, 1, H, W) in [0, 1]


class Compared(Protocol):
    """What a figure reads of a comparison (``evaluation.comparison.ComparisonResult`` is one)."""

    images: torch.Tensor
    labels: torch.Tensor
    segmentation: torch.Tensor | None
    methods: Sequence[ComparedMethod]


def image_to_numpy(image: torch.Tensor, normalization: Normalization | None = None) -> np.ndarray:
    """A ``(C, H, W)`` image as channels-last numpy in [0, 1], de-normalised if asked."""
    if normalization is not None:
        image = normalization.denormalize(image)
    return np.clip(to_numpy_image(image), 0.0, 1.0)


def _is_empty(values: np.ndarray, sign: str) -> bool:
    if sign == "positive":
        return not (values > 0).any()
    if sign == "negative":
        return not (values < 0).any()
    return not np.abs(values).max() > 0


def visualize_attribution(
    attribution: torch.Tensor,
    image: torch.Tensor | None = None,
    normalization: Normalization | None = None,
    method: str = "blended_heat_map",
    sign: str = "absolute_value",
    plt_fig_axis: tuple[Figure, Axes] | None = None,
    title: str | None = None,
    **kwargs: object,
) -> tuple[Figure, Axes]:
    """Draw one attribution map with Captum's ``visualize_image_attr``.

    Args:
        attribution: ``(C, H, W)`` or ``(1, H, W)`` (one example of a batch).
        image: the explained image ``(C, H, W)``, in the model's normalised space when
            ``normalization`` is given.
        normalization: undoes the model's input normalisation for display.
        method, sign, plt_fig_axis, title, kwargs: as Captum's ``visualize_image_attr``.

    Returns:
        Captum's ``(figure, axis)``.
    """
    attr = to_numpy_image(attribution)
    original = image_to_numpy(image, normalization) if image is not None else None
    if _is_empty(attr, sign):
        # Nothing to normalise: show the image alone (or a blank map), marked as empty.
        if plt_fig_axis is None:
            figure = Figure(figsize=(6, 6))
            plt_fig_axis = (figure, figure.subplots())
        figure, axis = plt_fig_axis
        shown = original if original is not None else np.zeros(attr.shape[:2])
        axis.imshow(shown, cmap=None if original is not None else "gray", vmin=0, vmax=1)
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set_title(f"{title} (all zero)" if title else "(all zero)")
        return figure, axis
    return captum_viz.visualize_image_attr(
        attr,
        original,
        method=method,
        sign=sign,
        plt_fig_axis=plt_fig_axis,
        title=title,
        use_pyplot=False,
        **kwargs,
    )


def _blank_axes(axis: Axes) -> None:
    axis.set_xticks([])
    axis.set_yticks([])


def comparison_grid(
    result: Compared,
    normalization: Normalization | None = None,
    max_images: int = 8,
    class_names: list[str] | None = None,
) -> Figure:
    """Rows are images; columns the image, the ground truth (when known) and each method's
    map (the max over the image's explained classes, as scored)."""
    n = min(max_images, result.images.shape[0])
    has_truth = result.segmentation is not None
    columns = 1 + int(has_truth) + len(result.methods)
    figure = Figure(figsize=(1.9 * columns, 1.9 * n + 0.4), layout="constrained")
    axes = figure.subplots(n, columns, squeeze=False)
    for row in range(n):
        image = result.images[row]
        axes[row, 0].imshow(image_to_numpy(image, normalization))
        names = (
            [class_names[k] for k in result.labels[row].nonzero().flatten().tolist()]
            if class_names
            else []
        )
        axes[row, 0].set_ylabel(", ".join(names), fontsize=7)
        if has_truth:
            seg = result.segmentation[row]
            truth = ((seg > 0) & (seg < 255)).float()
            axes[row, 1].imshow(truth.cpu().numpy(), cmap="gray", vmin=0, vmax=1)
        for col, method in enumerate(result.methods, start=1 + int(has_truth)):
            visualize_attribution(
                method.merged[row],
                image,
                normalization,
                method="blended_heat_map",
                sign="absolute_value",
                plt_fig_axis=(figure, axes[row, col]),
                alpha_overlay=0.5,
                cmap="jet",
            )
            axes[row, col].set_title("")
    titles = ["image"] + (["ground truth"] if has_truth else []) + [m.name for m in result.methods]
    for col, title in enumerate(titles):
        axes[0, col].set_title(title, fontsize=9)
    for axis in axes.flat:
        _blank_axes(axis)
    return figure


def class_view(
    image: torch.Tensor,
    class_maps: dict[str, torch.Tensor],
    class_names: list[str],
    normalization: Normalization | None = None,
    present: Sequence[int] | None = None,
    columns: Sequence[int] | None = None,
) -> Figure:
    """One image, one column per class, one row per method: are the maps class-specific?

    Args:
        image: ``(C, H, W)``.
        class_maps: method name -> ``(K, H, W)`` maps of every class, in [0, 1] on one scale
            per image (:func:`~captum_explainer.metrics.scale_class_maps`), shown as they are.
        class_names: the ``K`` names.
        present: the classes the image holds; the others' titles say "absent".
        columns: the classes shown, in order (default all).
    """
    shown = list(columns) if columns is not None else list(range(len(class_names)))
    holds = set(present) if present is not None else set(shown)
    figure = Figure(
        figsize=(1.7 * (len(shown) + 1), 1.8 * len(class_maps) + 0.4), layout="constrained"
    )
    axes = figure.subplots(len(class_maps), len(shown) + 1, squeeze=False)
    for row, (name, maps) in enumerate(class_maps.items()):
        axes[row, 0].imshow(image_to_numpy(image, normalization))
        axes[row, 0].set_ylabel(name, fontsize=9)
        for col, k in enumerate(shown):
            axes[row, col + 1].imshow(maps[k].cpu().numpy(), cmap="viridis", vmin=0, vmax=1)
            if row == 0:
                title = class_names[k] if k in holds else f"{class_names[k]} (absent)"
                axes[row, col + 1].set_title(title, fontsize=9)
    axes[0, 0].set_title("image", fontsize=9)
    for axis in axes.flat:
        _blank_axes(axis)
    return figure


def causal_curves_figure(curves: dict[str, CausalCurves]) -> Figure:
    """Mean deletion and insertion curves per method, with their areas in the legend."""
    figure = Figure(figsize=(10, 4), layout="constrained")
    deletion_axis, insertion_axis = figure.subplots(1, 2)
    for name, curve in curves.items():
        x = curve.x[0].cpu().numpy()
        deletion_axis.plot(
            x,
            curve.deletion.mean(0).cpu().numpy(),
            label=f"{name} ({float(curve.deletion_auc.mean()):.3f})",
        )
        insertion_axis.plot(
            x,
            curve.insertion.mean(0).cpu().numpy(),
            label=f"{name} ({float(curve.insertion_auc.mean()):.3f})",
        )
    for axis, title in (
        (deletion_axis, "deletion (lower is better)"),
        (insertion_axis, "insertion (higher is better)"),
    ):
        axis.set_title(title)
        axis.set_xlabel("fraction of pixels")
        axis.set_ylabel("score of the explained class")
        axis.legend(fontsize=8)
    return figure


def specificity_heatmap(
    result: ClassSpecificity, class_names: list[str], title: str = ""
) -> Figure:
    """The class-specificity matrix: rows the class present, columns the class whose map masks."""
    figure = Figure(figsize=(5.5, 4.8), layout="constrained")
    axis = figure.subplots()
    matrix = result.matrix.cpu().numpy()
    shown = axis.imshow(matrix, cmap="magma", vmin=0, vmax=1)
    axis.set_xticks(range(len(class_names)), class_names, rotation=60, fontsize=7)
    axis.set_yticks(range(len(class_names)), class_names, fontsize=7)
    axis.set_xlabel("mask of class")
    axis.set_ylabel("probability of class")
    axis.set_title(
        f"{title} diag {result.diagonal:.2f} / off {result.off_diagonal:.2f}", fontsize=9
    )
    figure.colorbar(shown, ax=axis)
    return figure


def randomization_figure(results: Sequence[Any]) -> Figure:
    """One panel per method: similarity of the maps to the original ones (Spearman and SSIM
    of absolute maps) after each randomisation step (``sanity.RandomizationResult``)."""
    figure = Figure(figsize=(4 * len(results), 3.4), layout="constrained")
    axes = figure.subplots(1, len(results), squeeze=False)[0]
    for axis, result in zip(axes, results):
        steps = range(len(result.layers))
        axis.plot(steps, result.mean("spearman_abs"), marker="o", label="Spearman |map|")
        axis.plot(steps, result.mean("ssim_abs"), marker="s", label="SSIM |map|")
        axis.axhline(result.threshold, color="grey", linestyle="--", linewidth=1)
        axis.set_ylim(-0.2, 1.05)
        axis.set_xticks(list(steps), result.layers, rotation=90, fontsize=6)
        verdict = "pass" if result.passed else "FAIL"
        axis.set_title(f"{result.method} ({result.mode}): {verdict}", fontsize=9)
        axis.legend(fontsize=7)
    return figure


def dataset_samples_figure(
    images: torch.Tensor,
    labels: torch.Tensor,
    segmentation: torch.Tensor,
    class_names: Sequence[str],
    normalization: Normalization | None = None,
) -> Figure:
    """Images ``(N, C, H, W)`` over their ground truth ``(N, H, W)`` (one colour per class,
    white for void), each titled with its classes: what a dataset looks like."""
    n = images.shape[0]
    figure = Figure(figsize=(2.0 * n, 4.3))
    axes = figure.subplots(2, n, squeeze=False)
    k = len(class_names)
    palette = np.concatenate(
        [[[0.1, 0.1, 0.1]], figure_colours(k), np.ones((256 - k - 1, 3))], axis=0
    )
    for i in range(n):
        axes[0, i].imshow(image_to_numpy(images[i], normalization))
        names = [class_names[c] for c in labels[i].nonzero().flatten().tolist()]
        axes[0, i].set_title(", ".join(names), fontsize=8)
        axes[1, i].imshow(palette[segmentation[i].cpu().numpy()], interpolation="nearest")
        for axis in axes[:, i]:
            _blank_axes(axis)
    figure.tight_layout()
    return figure


def figure_colours(n: int) -> np.ndarray:
    """``n`` distinct RGB colours (matplotlib's tab20 cycle)."""
    from_tab = (
        np.array(
            [
                [31, 119, 180],
                [255, 127, 14],
                [44, 160, 44],
                [214, 39, 40],
                [148, 103, 189],
                [140, 86, 75],
                [227, 119, 194],
                [127, 127, 127],
                [188, 189, 34],
                [23, 190, 207],
                [174, 199, 232],
                [255, 187, 120],
                [152, 223, 138],
                [255, 152, 150],
                [197, 176, 213],
            ],
            dtype=np.float64,
        )
        / 255.0
    )
    return from_tab[np.arange(n) % len(from_tab)]


def class_specific_view(
    result: Compared, classes: Sequence[str], normalization: Normalization | None = None
) -> Figure:
    """:func:`class_view` of the first image of a comparison that holds two or more classes
    (else the first): each method's maps of its present classes and of two absent ones, on
    one scale per image (methods without every-class maps are left out)."""
    counts = result.labels.sum(1)
    several = torch.nonzero(counts >= 2)
    index = int(several[0]) if len(several) else 0
    present = torch.nonzero(result.labels[index]).flatten().tolist()
    absent = [k for k in range(len(classes)) if k not in present][:2]
    maps = {
        m.name: scale_class_maps(m.class_maps[index : index + 1], m.scale)[0]
        for m in result.methods
        if getattr(m, "class_maps", None) is not None
    }
    return class_view(result.images[index], maps, classes, normalization, present, present + absent)
