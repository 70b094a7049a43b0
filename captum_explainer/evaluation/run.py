"""Run methods on one batch, time them and score them: the one place where a map becomes a
number. ``evaluate`` (a dataset), the demo and ``compare`` all go through here.

Methods are ordinary Captum attribution objects with their keyword arguments
(:class:`~captum_explainer.evaluation.catalogue.MethodSpec`), so a user's own Captum method
(``captum.attr.Occlusion``, ...) is compared the same way.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from captum_explainer.evaluation.catalogue import MethodSpec
from captum_explainer.evaluation.measure import measure_peak_memory, timed
from captum_explainer.maps import to_pixel_map
from captum_explainer.metrics import (
    CausalCurves,
    ClassSpecificity,
    MaskOnlyResult,
    blur_to_match,
    class_mask_scores,
    class_pairs,
    class_specificity,
    deletion_insertion,
    energy_pointing_game,
    gaussian_blur,
    mask_only_check,
    mask_scores,
    merge_class_maps,
    per_class_mean,
    pointing_game,
    road,
    saliency_metric,
    scale_class_maps,
    scale_maps,
)
from captum_explainer.report import csv_table, markdown_table, uniform_rows


@dataclass
class MethodResult:
    """What one method produced: its maps, its cost and (with ground truth) its scores.

    Example:
        >>> from captum_explainer import GradCAM, SyntheticScenes
        >>> from captum_explainer.data import collate_items
        >>> from captum_explainer.evaluation import MethodSpec, compare
        >>> from captum_explainer.models import synthetic_classifier
        >>> images, labels, segmentation = collate_items(list(SyntheticScenes(4, seed=1)))
        >>> result = compare([MethodSpec("Grad-CAM", GradCAM(synthetic_classifier()))], images, labels)
        >>> gradcam = result["Grad-CAM"]
        >>> gradcam.merged.shape, gradcam.pair_maps.shape[1:]  # per image; per (image, class) pair
        (torch.Size([4, 1, 64, 64]), torch.Size([1, 64, 64]))
    """

    name: str
    pair_maps: torch.Tensor  # (M, 1, H, W), one per (image, labelled class) pair
    merged: torch.Tensor  # (N, 1, H, W), max over each image's labelled classes, in [0, 1]
    seconds_per_image: float
    peak_memory_mb: float
    metrics: dict[str, float] = field(default_factory=dict)
    per_image: dict[str, torch.Tensor] = field(default_factory=dict)  # (N,) each
    per_pair: dict[str, torch.Tensor] = field(default_factory=dict)  # (M,) each
    class_maps: torch.Tensor | None = None  # (N, K, H, W) raw, every class (when computed)
    scale: str = "minmax"  # the method's rule to bring maps to [0, 1] (scale_maps)
    # (M, 1, H, W): the pairs' maps the pixel-ranking games read (MethodSpec.ranking), if any
    ranking_maps: torch.Tensor | None = None


@dataclass
class ComparisonResult:
    """Every method's :class:`MethodResult` on one batch, convertible to a table.

    Example:
        >>> from captum_explainer import GradCAM, SyntheticScenes
        >>> from captum_explainer.data import collate_items
        >>> from captum_explainer.evaluation import MethodSpec, compare
        >>> from captum_explainer.models import synthetic_classifier
        >>> images, labels, segmentation = collate_items(list(SyntheticScenes(4, seed=1)))
        >>> methods = [MethodSpec("Grad-CAM", GradCAM(synthetic_classifier()))]
        >>> result = compare(methods, images, labels, segmentation)
        >>> row = result.rows()[0]
        >>> row["method"], 0 <= row["continuous_iou"] <= 1
        ('Grad-CAM', True)
        >>> result.to_markdown().splitlines()[0][:40]
        '| method | seconds_per_image | peak_memo'
    """

    methods: list[MethodResult]
    images: torch.Tensor
    labels: torch.Tensor
    segmentation: torch.Tensor | None
    pair_images: torch.Tensor
    pair_classes: torch.Tensor

    def __getitem__(self, name: str) -> MethodResult:
        for result in self.methods:
            if result.name == name:
                return result
        raise KeyError(f"no method {name!r}; methods: {[r.name for r in self.methods]}")

    def rows(self) -> list[dict[str, Any]]:
        """One dictionary per method: name, cost, then every metric (NaN where a method
        has none)."""
        return uniform_rows(
            [
                {
                    "method": r.name,
                    "seconds_per_image": r.seconds_per_image,
                    "peak_memory_mb": r.peak_memory_mb,
                    **r.metrics,
                }
                for r in self.methods
            ]
        )

    def to_markdown(self, digits: int = 3) -> str:
        return markdown_table(self.rows(), digits)

    def to_csv(self) -> str:
        return csv_table(self.rows())

    def to_json(self) -> str:
        return json.dumps(self.rows(), indent=2, default=float)


def compare(
    methods: Sequence[MethodSpec],
    images: torch.Tensor,
    labels: torch.Tensor,
    segmentation: torch.Tensor | None = None,
    progress: Callable[[str], None] | None = None,
    pointing_truth: torch.Tensor | None = None,
    original_sizes: torch.Tensor | None = None,
    per_class: bool | Sequence[str] = True,
) -> ComparisonResult:
    """Explain every labelled class of every image with every method, and score the maps.

    Args:
        methods: the methods (:class:`MethodSpec`).
        images: ``(N, C, H, W)``.
        labels: ``(N, K)`` multi-hot: the classes explained (ground truth or predictions).
        segmentation: ``(N, H, W)`` ground truth; with it each method gets the mask
            scores, the pointing game and the energy pointing game.
        progress: called with each method's name before it runs.
        pointing_truth: ``(N, K, H, W)`` bool, where the dataset has them the pointing
            game's own ground truth per class (VOC: bounding boxes, as TorchRay); default
            the segmentation.
        original_sizes: ``(N, 2)`` the images' sizes before resizing: the pointing game's
            tolerance is then 15 pixels of the original image (TorchRay's protocol).
        per_class: with a segmentation, the methods (``True``: those whose
            ``MethodSpec.per_class`` is set; or their names) that also get the class-specific
            scores
            (:func:`~captum_explainer.metrics.per_class.class_mask_scores`) from every
            class's map of every image; a method without an all-class pass then runs once
            per class (outside its timing).

    Returns:
        A :class:`ComparisonResult`.

    Example:
        >>> from captum_explainer import RISE, GradCAM, SyntheticScenes
        >>> from captum_explainer.data import collate_items
        >>> from captum_explainer.evaluation import MethodSpec, compare
        >>> from captum_explainer.models import synthetic_classifier
        >>> model = synthetic_classifier()
        >>> images, labels, segmentation = collate_items(list(SyntheticScenes(4, seed=1, split="val")))
        >>> methods = [
        ...     MethodSpec("Grad-CAM", GradCAM(model)),
        ...     MethodSpec("RISE", RISE(model, score="sigmoid"), {"n_masks": 64, "seed": 0}),
        ... ]
        >>> result = compare(methods, images, labels, segmentation)
        >>> [(row["method"], "class_iou" in row) for row in result.rows()]
        [('Grad-CAM', True), ('RISE', True)]
    """
    if images.dim() != 4 or labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"images must be (N, C, H, W) and labels (N, K) with the same N; got "
            f"{tuple(images.shape)} and {tuple(labels.shape)}"
        )
    pair_images, pair_classes = class_pairs(labels)
    if pair_images.numel() == 0:
        raise ValueError("labels name no class for any image: nothing to explain")
    results = []
    for spec in methods:
        if progress is not None:
            progress(spec.name)
        ((pair_maps, every), seconds), peak = measure_peak_memory(
            lambda spec=spec: timed(
                lambda: _pair_maps(spec, images, labels, pair_images, pair_classes), images.device
            ),
            images.device,
        )
        scaled = scale_maps(pair_maps, spec.scale)
        merged = _merge_pairs(scaled, pair_images, pair_classes, labels)
        result = MethodResult(
            spec.name, pair_maps, merged, seconds / images.shape[0], peak, scale=spec.scale
        )
        result.class_maps = every
        if spec.ranking is not None:  # outside the timing: a second view of the same maps
            ranked = replace(spec, kwargs={**spec.kwargs, **spec.ranking})
            result.ranking_maps = _pair_maps(ranked, images, labels, pair_images, pair_classes)[0]
        if segmentation is not None:
            result.per_image, result.per_pair = ground_truth_values(
                merged,
                scaled,
                segmentation,
                pair_images,
                pair_classes,
                labels.shape[1],
                pointing_truth,
                original_sizes,
            )
            if spec.per_class if per_class is True else per_class and spec.name in per_class:
                result.class_maps = raw_class_maps(spec, images, labels, every)
                pairs, per_image = class_mask_scores(
                    scale_class_maps(result.class_maps, spec.scale), segmentation, labels
                )
                result.per_pair.update(pairs)
                result.per_image.update(per_image)
            result.metrics = summarize(
                result.per_image, result.per_pair, pair_classes, labels.shape[1]
            )
        results.append(result)
    return ComparisonResult(results, images, labels, segmentation, pair_images, pair_classes)


def raw_class_maps(
    method: MethodSpec,
    images: torch.Tensor,
    labels: torch.Tensor,
    computed: torch.Tensor | None = None,
) -> torch.Tensor:
    """Every class's map of every image, ``(N, K, H, W)``, unscaled: one pass where the
    method has ``attribute_all_classes``, else one ``attribute`` call for all ``N * K``
    (image, class) pairs. ``labels`` ``(N, K)`` reach a method that needs them
    (``MethodSpec.labels_as``); ``computed``: maps a comparison already has."""
    n, k = labels.shape
    h, w = images.shape[-2:]
    if computed is not None:
        return computed.reshape(n, k, h, w)
    if method.all_classes and hasattr(method.attribution, "attribute_all_classes"):
        return method.attribution.attribute_all_classes(images, **method.kwargs).detach()
    kwargs = dict(method.kwargs)
    if method.labels_as is not None:
        kwargs[method.labels_as] = labels.repeat_interleave(k, dim=0)
    repeated = images.repeat_interleave(k, dim=0)
    classes = torch.arange(k, device=images.device).repeat(n)
    maps = method.attribution.attribute(repeated, target=classes, **kwargs)
    return to_pixel_map(maps.detach(), method.reduction).float().reshape(n, k, h, w)


def all_class_maps(
    method: MethodSpec,
    images: torch.Tensor,
    labels: torch.Tensor,
    computed: torch.Tensor | None = None,
) -> torch.Tensor:
    """:func:`raw_class_maps`, each map brought to [0, 1] alone by the method's rule (the
    masks that class specificity applies).

    Example:
        >>> from captum_explainer import GradCAM, SyntheticScenes
        >>> from captum_explainer.data import collate_items
        >>> from captum_explainer.evaluation import MethodSpec, all_class_maps
        >>> from captum_explainer.models import synthetic_classifier
        >>> images, labels, _ = collate_items(list(SyntheticScenes(2, seed=1)))
        >>> gradcam = MethodSpec("Grad-CAM", GradCAM(synthetic_classifier()))
        >>> maps = all_class_maps(gradcam, images, labels)
        >>> maps.shape, 0 <= float(maps.min()) <= float(maps.max()) <= 1  # every class, in [0, 1]
        (torch.Size([2, 8, 64, 64]), True)
    """
    maps = raw_class_maps(method, images, labels, computed)
    n, k, h, w = maps.shape
    return scale_maps(maps.reshape(n * k, 1, h, w), method.scale).reshape(n, k, h, w)


def _pair_maps(
    spec: MethodSpec,
    images: torch.Tensor,
    labels: torch.Tensor,
    pair_images: torch.Tensor,
    pair_classes: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Each pair's map ``(M, 1, H, W)``, and every class's maps where one pass gave them."""
    attribution = spec.attribution
    every = None
    if spec.all_classes and hasattr(attribution, "attribute_all_classes"):
        every = attribution.attribute_all_classes(images, **spec.kwargs).detach()
        maps = every[pair_images, pair_classes][:, None]
    else:
        kwargs = dict(spec.kwargs)
        if spec.labels_as is not None:
            kwargs[spec.labels_as] = labels[pair_images]
        maps = attribution.attribute(images[pair_images], target=pair_classes, **kwargs)
    return to_pixel_map(maps.detach(), spec.reduction).float(), every


def _merge_pairs(
    pair_maps: torch.Tensor,
    pair_images: torch.Tensor,
    pair_classes: torch.Tensor,
    labels: torch.Tensor,
) -> torch.Tensor:
    n, k = labels.shape
    class_maps = pair_maps.new_zeros((n, k, *pair_maps.shape[-2:]))
    class_maps[pair_images, pair_classes] = pair_maps[:, 0]
    return merge_class_maps(class_maps, labels)


def ground_truth_values(
    merged: torch.Tensor,
    pair_maps: torch.Tensor,
    segmentation: torch.Tensor,
    pair_images: torch.Tensor,
    pair_classes: torch.Tensor,
    num_classes: int,
    pointing_truth: torch.Tensor | None = None,
    original_sizes: torch.Tensor | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Per-image mask scores and per-pair pointing results: the raw values behind the
    table, kept so that batches (and processes) can be merged before averaging.

    ``pair_maps`` are the pairs' maps scaled by their method's rule (:func:`scale_maps`);
    ``pointing_truth`` and ``original_sizes`` as in :func:`compare`."""
    per_image = mask_scores(merged, segmentation)
    pair_seg = segmentation[pair_images]
    truth = pair_seg if pointing_truth is None else pointing_truth[pair_images, pair_classes]
    sizes = None if original_sizes is None else original_sizes[pair_images]
    per_pair = {
        "pointing_game": pointing_game(
            pair_maps, truth, pair_classes, num_classes, original_sizes=sizes
        )["hits"].float(),
        "energy_pointing_game": energy_pointing_game(
            pair_maps, pair_seg, pair_classes, num_classes
        )["share"],
    }
    return per_image, per_pair


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


@dataclass
class BatchFaithfulness:
    """What the faithfulness games measured on one batch, per method.

    ``curves``: deletion/insertion (:class:`~captum_explainer.metrics.CausalCurves`) of each
    (image, class) pair; ``per_pair``: their areas and the blank-image level; ``per_image``:
    the saliency metric; ``specificity`` and ``class_maps`` (every class's map, scaled): for
    the methods whose ``MethodSpec.specificity`` is set (or named in ``specificity_methods``).

    Example:
        >>> from captum_explainer import GradCAM, SyntheticScenes
        >>> from captum_explainer.data import collate_items
        >>> from captum_explainer.evaluation import MethodSpec, compare, score_faithfulness
        >>> from captum_explainer.models import synthetic_classifier
        >>> model = synthetic_classifier()
        >>> images, labels, segmentation = collate_items(list(SyntheticScenes(4, seed=1)))
        >>> methods = [MethodSpec("Grad-CAM", GradCAM(model))]
        >>> games = score_faithfulness(model, methods, compare(methods, images, labels), deletion_steps=8)
        >>> games.curves["Grad-CAM"].deletion.shape  # (pairs, steps + 1)
        torch.Size([8, 9])
    """

    curves: dict[str, CausalCurves] = field(default_factory=dict)
    per_pair: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    per_image: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    specificity: dict[str, ClassSpecificity] = field(default_factory=dict)
    class_maps: dict[str, torch.Tensor] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: With ``controls``: each method's pair maps as binary shapes (:func:`mask_shapes`), and
    #: the pairs' ground-truth shapes (``None`` without a segmentation), for the mask-only check.
    shapes: dict[str, torch.Tensor] = field(default_factory=dict)
    truth_shapes: torch.Tensor | None = None


#: Side of the binary shapes the mask-only check reads: the masks' silhouettes, not details.
SHAPE_SIDE = 32

#: Fewest (image, class) pairs the mask-only check is run on: with fewer, its held-out set is
#: a handful of masks and its accuracy says nothing (the demo's 8 images give about 16).
MASK_ONLY_MIN_MASKS = 60

#: The faithfulness columns the sharpness control repeats on blurred maps (name + this).
BLURRED = "_blurred"


def mask_shapes(maps: torch.Tensor, scale: str = "none") -> torch.Tensor:
    """Maps ``(M, 1, H, W)`` as the mask-only check reads them: scaled by their method's rule
    (:func:`~captum_explainer.metrics.scale_maps`), averaged down to ``SHAPE_SIDE`` pixels
    a side and thresholded at 0.5: ``(M, 1, SHAPE_SIDE, SHAPE_SIDE)`` booleans.

    Example:
        >>> import torch
        >>> from captum_explainer.evaluation.run import mask_shapes
        >>> square = torch.zeros(1, 1, 64, 64)
        >>> square[..., :32, :32] = 1
        >>> shape = mask_shapes(square)
        >>> shape.shape, int(shape.sum())  # a quarter of 32 x 32
        (torch.Size([1, 1, 32, 32]), 256)
    """
    small = F.interpolate(scale_maps(maps.float(), scale), size=SHAPE_SIDE, mode="area")
    return small >= 0.5


def mask_only_checks(
    shapes: dict[str, torch.Tensor],
    classes: torch.Tensor,
    num_classes: int,
    truth: torch.Tensor | None = None,
    seed: int = 0,
    steps: int = 300,
    min_masks: int = MASK_ONLY_MIN_MASKS,
) -> dict[str, MaskOnlyResult]:
    """The mask-only check (:func:`~captum_explainer.metrics.mask_only_check`) of every
    method's shapes, and of the ground truth's (key ``"ground truth"``) where given: the
    level a perfect localiser reaches where the classes differ in shape. The same split and
    training for each (``seed``); nothing below ``min_masks`` pairs (default
    :data:`MASK_ONLY_MIN_MASKS`: too few held-out masks to read an accuracy).

    Args:
        shapes: method name -> ``(M, 1, S, S)`` binary shapes (:func:`mask_shapes`), one per
            (image, class) pair, the pairs in the same order for every method.
        classes: ``(M,)`` the class each pair explains.
        num_classes: ``K``.
        truth: ``(M, 1, S, S)`` the pairs' ground-truth shapes, or ``None``.
        seed, steps: the held-out split and the reader's training (Adam steps).
        min_masks: the fewest pairs checked.

    Returns:
        Name -> :class:`~captum_explainer.metrics.MaskOnlyResult`.

    Example:
        >>> import torch
        >>> from captum_explainer.evaluation.run import mask_only_checks
        >>> classes = torch.arange(80) % 2
        >>> shapes = torch.zeros(80, 1, 32, 32, dtype=torch.bool)
        >>> shapes[classes == 0, :, :16] = True  # class 0: the top half; class 1: the bottom
        >>> shapes[classes == 1, :, 16:] = True
        >>> checks = mask_only_checks({"halves": shapes}, classes, 2, steps=100)
        >>> checks["halves"].accuracy
        1.0
    """
    named = dict(shapes)
    if truth is not None:
        named["ground truth"] = truth
    return {
        name: mask_only_check(masks.float(), classes, num_classes, steps=steps, seed=seed)
        for name, masks in named.items()
        if masks.shape[0] >= max(min_masks, 3)
    }


def mask_only_columns(checks: dict[str, MaskOnlyResult], name: str) -> dict[str, float]:
    """A method's mask-only columns for a table: its held-out accuracy, chance, the ground
    truth's accuracy (NaN without one) and the held-out masks' count; empty where the
    method was not checked.

    Example:
        >>> from captum_explainer.evaluation.run import mask_only_columns
        >>> from captum_explainer.metrics import MaskOnlyResult
        >>> checks = {"Explainer": MaskOnlyResult(accuracy=0.4, chance=0.2, n_train=70, n_test=30)}
        >>> mask_only_columns(checks, "Explainer")["mask_only_truth"]
        nan
        >>> mask_only_columns(checks, "RISE")
        {}
    """
    if name not in checks:
        return {}
    truth = checks.get("ground truth")
    return {
        "mask_only_accuracy": checks[name].accuracy,
        "mask_only_chance": checks[name].chance,
        "mask_only_truth": truth.accuracy if truth else float("nan"),
        "mask_only_test_masks": checks[name].n_test,
    }


def _pair_truth(result: ComparisonResult) -> torch.Tensor | None:
    """Each pair's own class's pixels as a binary shape (:func:`mask_shapes`)."""
    if result.segmentation is None:
        return None
    own = result.segmentation[result.pair_images] == (result.pair_classes[:, None, None] + 1)
    return mask_shapes(own[:, None].float())


def score_faithfulness(
    classifier: nn.Module,
    methods: Sequence[MethodSpec],
    result: ComparisonResult,
    score: str = "sigmoid",
    deletion_steps: int = 32,
    specificity_methods: Sequence[str] | None = None,
    canvas: str = "blur",
    road_fractions: Sequence[float] | None = None,
    controls: bool = False,
    blur_reference: str = "Grad-CAM",
) -> BatchFaithfulness:
    """Deletion and insertion, ROAD, the saliency metric and class specificity of every
    method of ``result`` (the same methods, in order), all read with the classifier's
    ``score``. The games that rank pixels read each method's ranking map where it has one
    (:attr:`MethodResult.ranking_maps`). ``road_fractions``: ROAD's removed shares
    (:func:`~captum_explainer.metrics.road`, e.g. ``ROAD_FRACTIONS``; ``None``, the default,
    skips it: its imputation costs about 20x the deletion game on a CPU).

    ``controls`` adds what each faithfulness number needs beside it: the methods' binary
    shapes and the ground truth's (``shapes``, ``truth_shapes``) for the mask-only check
    (:func:`mask_only_checks`, run once over every batch), and the sharpness control: every
    method's maps blurred to ``blur_reference``'s roughness
    (:func:`~captum_explainer.metrics.blur_to_match`; unchanged where already as smooth)
    and scored again, as ``deletion_auc_blurred``, ``insertion_auc_blurred`` (and
    ``road_combined_blurred``) with the blur's ``blur_sigma`` in pixels; NaN for the
    reference itself, and nothing without it. With a segmentation, the localisation control
    too: the same games ranked by the pairs' own object masks, sharp and blurred to the
    reference's roughness (``deletion_auc_truth``, ``insertion_auc_truth``,
    ``deletion_auc_truth_blurred``, ``insertion_auc_truth_blurred``; the same in every
    method's row): the scores a perfect localiser gets.

    ``canvas`` is insertion's starting image (:data:`~captum_explainer.metrics.CANVASES`);
    where it or deletion's baseline keeps the class, ``warnings`` says so (once per batch).

    Example:
        >>> from captum_explainer import GradCAM, SyntheticScenes
        >>> from captum_explainer.data import collate_items
        >>> from captum_explainer.evaluation import MethodSpec, compare, score_faithfulness
        >>> from captum_explainer.models import synthetic_classifier
        >>> model = synthetic_classifier()
        >>> images, labels, segmentation = collate_items(list(SyntheticScenes(4, seed=1)))
        >>> methods = [MethodSpec("Grad-CAM", GradCAM(model))]
        >>> result = compare(methods, images, labels, segmentation)
        >>> games = score_faithfulness(model, methods, result, deletion_steps=8)
        >>> curves = games.curves["Grad-CAM"]
        >>> bool(curves.insertion_auc.mean() > curves.deletion_auc.mean()), games.warnings
        (True, [])
    """
    out = BatchFaithfulness()
    pair_images = result.images[result.pair_images]
    truth_games = (
        _truth_control(
            classifier, result, pair_images, blur_reference, score, deletion_steps, canvas
        )
        if controls
        else {}
    )
    for spec, method in zip(methods, result.methods):
        order = method.ranking_maps if method.ranking_maps is not None else method.pair_maps
        curves = deletion_insertion(
            classifier,
            pair_images,
            order,
            result.pair_classes,
            n_steps=deletion_steps,
            score=score,
            canvas=canvas,
        )
        out.curves[spec.name] = curves
        if not out.warnings:  # the canvas and baseline are the same for every method
            out.warnings = curves.evidence_warnings()
            for warning in out.warnings:
                warnings.warn(warning, stacklevel=2)
        out.per_pair[spec.name] = {
            "deletion_auc": curves.deletion_auc,
            "insertion_auc": curves.insertion_auc,
            "blank_score": curves.blank_score,
            "canvas_score": curves.canvas_score,
        }
        if road_fractions is not None:
            removal = road(
                classifier, pair_images, order, result.pair_classes, road_fractions, score
            )
            out.per_pair[spec.name].update(
                road_morf=removal.morf_mean,
                road_lerf=removal.lerf_mean,
                road_combined=removal.combined,
            )
        if controls:
            out.shapes[spec.name] = mask_shapes(method.pair_maps, method.scale)
            out.per_pair[spec.name].update(truth_games)
            out.per_pair[spec.name].update(
                _sharpness_control(
                    classifier,
                    result,
                    method,
                    out.per_pair[spec.name],
                    blur_reference,
                    score,
                    deletion_steps,
                    canvas,
                    road_fractions,
                )
            )
        out.per_image[spec.name] = {
            "saliency_metric": saliency_metric(
                classifier, result.images, method.merged, result.labels
            )
        }
        if spec.specificity if specificity_methods is None else spec.name in specificity_methods:
            maps = all_class_maps(spec, result.images, result.labels, method.class_maps)
            out.class_maps[spec.name] = maps
            out.specificity[spec.name] = class_specificity(
                classifier, result.images, maps, result.labels, score=score
            )
    if controls:
        out.truth_shapes = _pair_truth(result)
    return out


#: Blur (pixels) that orders the ground truth's own pixels interior first and the rest
#: nearest first: the ranking a perfect localiser gives (:func:`_truth_control`).
TRUTH_RANK_SIGMA = 2.0


def _truth_control(
    classifier: nn.Module,
    result: ComparisonResult,
    pair_images: torch.Tensor,
    reference_name: str,
    score: str,
    deletion_steps: int,
    canvas: str,
) -> dict[str, torch.Tensor]:
    """The localisation control of the faithfulness games: deletion and insertion ranked by
    each pair's own object pixels (``deletion_auc_truth``, ``insertion_auc_truth``), and by
    the same masks blurred to the reference's roughness (``..._truth_blurred``). A method
    that beats the sharp truth wins the game by something other than finding the object; a
    game the blurred truth wins and the sharp truth loses rewards smoothness, not
    localisation. Empty without a segmentation."""
    if result.segmentation is None:
        return {}
    own = result.segmentation[result.pair_images] == (result.pair_classes[:, None, None] + 1)
    own = own[:, None].float()
    sigma = TRUTH_RANK_SIGMA * own.shape[-1] / 128
    ranking = own + 0.5 * gaussian_blur(own, kernel_size=2 * round(3 * sigma) + 1, sigma=sigma)
    variants = {"_truth": ranking}
    if reference_name in [m.name for m in result.methods]:
        reference = result[reference_name]
        target = scale_maps(reference.pair_maps.float(), reference.scale)
        variants["_truth" + BLURRED] = blur_to_match(own, target)[0]
    out = {}
    for suffix, maps in variants.items():
        curves = deletion_insertion(
            classifier,
            pair_images,
            maps.to(pair_images.device),
            result.pair_classes,
            n_steps=deletion_steps,
            score=score,
            canvas=canvas,
        )
        out["deletion_auc" + suffix] = curves.deletion_auc
        out["insertion_auc" + suffix] = curves.insertion_auc
    return out


def _sharpness_control(
    classifier: nn.Module,
    result: ComparisonResult,
    method: MethodResult,
    unblurred: dict[str, torch.Tensor],
    reference_name: str,
    score: str,
    deletion_steps: int,
    canvas: str,
    road_fractions: Sequence[float] | None,
) -> dict[str, torch.Tensor]:
    """One method's faithfulness games again on its maps blurred to the reference's
    roughness (see :func:`score_faithfulness`)."""
    names = [m.name for m in result.methods]
    if reference_name not in names:
        return {}
    columns = ["deletion_auc", "insertion_auc"] + (["road_combined"] if road_fractions else [])
    m = method.pair_maps.shape[0]
    if method.name == reference_name:
        nothing = method.pair_maps.new_full((m,), float("nan"))
        return {**{c + BLURRED: nothing for c in columns}, "blur_sigma": nothing}
    reference = result[reference_name]
    maps = scale_maps(method.pair_maps.float(), method.scale)
    target = scale_maps(reference.pair_maps.float(), reference.scale)
    blurred, sigma = blur_to_match(maps, target)
    sigmas = method.pair_maps.new_full((m,), sigma)
    if sigma == 0:  # already as smooth as the reference: the same games, the same numbers
        return {**{c + BLURRED: unblurred[c] for c in columns}, "blur_sigma": sigmas}
    pair_images = result.images[result.pair_images]
    curves = deletion_insertion(
        classifier,
        pair_images,
        blurred,
        result.pair_classes,
        n_steps=deletion_steps,
        score=score,
        canvas=canvas,
    )
    out = {
        "deletion_auc" + BLURRED: curves.deletion_auc,
        "insertion_auc" + BLURRED: curves.insertion_auc,
    }
    if road_fractions:
        removal = road(classifier, pair_images, blurred, result.pair_classes, road_fractions, score)
        out["road_combined" + BLURRED] = removal.combined
    out["blur_sigma"] = sigmas
    return out
