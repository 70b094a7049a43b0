"""The faithfulness games of one batch: deletion, insertion, ROAD, the saliency metric and
class specificity of every method, with their controls beside them (:mod:`.controls`)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from captum_explainer.evaluation.comparison import (
    ComparisonResult,
    MethodResult,
    all_class_maps,
    compare,
)
from captum_explainer.evaluation.controls import (
    BLURRED,
    blurred_to_reference,
    mask_shapes,
    pair_truth,
    truth_rankings,
)
from captum_explainer.evaluation.registry import MethodSpec, records_with
from captum_explainer.metrics import (
    ROAD_FRACTIONS,
    CausalCurves,
    ClassSpecificity,
    class_specificity,
    deletion_insertion,
    road,
    saliency_metric,
)


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
    blur_reference: str | None = None,
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
    method's maps blurred to ``blur_reference``'s roughness (a method's display name;
    default: the registered method whose record is the blur reference, Grad-CAM)
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
    if blur_reference is None:
        blur_reference = next((r.name for r in records_with("blur_reference")), "")
    pair_images = result.images[result.pair_images]
    truth_games = (
        _play_truth(classifier, result, pair_images, blur_reference, score, deletion_steps, canvas)
        if controls
        else {}
    )
    for spec, method in zip(methods, result.methods):
        order = method.ranking_maps if method.ranking_maps is not None else method.pair_maps
        curves, out.per_pair[spec.name] = _play_games(
            classifier, pair_images, order, result.pair_classes, score, deletion_steps, canvas,
            road_fractions,
        )  # fmt: skip
        out.curves[spec.name] = curves
        if not out.warnings:  # the canvas and baseline are the same for every method
            out.warnings = curves.evidence_warnings()
            for warning in out.warnings:
                warnings.warn(warning, stacklevel=2)
        if controls:
            out.shapes[spec.name] = mask_shapes(method.pair_maps, method.scale)
            out.per_pair[spec.name].update(truth_games)
            out.per_pair[spec.name].update(
                _play_blurred(
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
        out.truth_shapes = pair_truth(result)
    return out


def _play_games(
    classifier: nn.Module,
    pair_images: torch.Tensor,
    order: torch.Tensor,
    pair_classes: torch.Tensor,
    score: str,
    deletion_steps: int,
    canvas: str,
    road_fractions: Sequence[float] | None,
) -> tuple[CausalCurves, dict[str, torch.Tensor]]:
    """Deletion and insertion (and ROAD, with ``road_fractions``) of the pairs ranked by
    ``order``: the curves and the per-pair columns."""
    curves = deletion_insertion(
        classifier,
        pair_images,
        order,
        pair_classes,
        n_steps=deletion_steps,
        score=score,
        canvas=canvas,
    )
    columns = {
        "deletion_auc": curves.deletion_auc,
        "insertion_auc": curves.insertion_auc,
        "blank_score": curves.blank_score,
        "canvas_score": curves.canvas_score,
    }
    if road_fractions is not None:
        removal = road(classifier, pair_images, order, pair_classes, road_fractions, score)
        columns.update(
            road_morf=removal.morf_mean,
            road_lerf=removal.lerf_mean,
            road_combined=removal.combined,
        )
    return curves, columns


def _play_truth(
    classifier: nn.Module,
    result: ComparisonResult,
    pair_images: torch.Tensor,
    reference_name: str,
    score: str,
    deletion_steps: int,
    canvas: str,
) -> dict[str, torch.Tensor]:
    """The localisation control: deletion and insertion ranked by the true object masks
    (:func:`~captum_explainer.evaluation.controls.truth_rankings`), sharp and blurred."""
    out = {}
    for suffix, maps in truth_rankings(result, reference_name).items():
        _, columns = _play_games(
            classifier, pair_images, maps.to(pair_images.device), result.pair_classes, score,
            deletion_steps, canvas, None,
        )  # fmt: skip
        out["deletion_auc" + suffix] = columns["deletion_auc"]
        out["insertion_auc" + suffix] = columns["insertion_auc"]
    return out


def _play_blurred(
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
    """The sharpness control: one method's games again on its maps blurred to the
    reference's roughness (:func:`~captum_explainer.evaluation.controls.blurred_to_reference`);
    NaN for the reference itself, nothing where the reference did not run."""
    if reference_name not in [m.name for m in result.methods]:
        return {}
    columns = ["deletion_auc", "insertion_auc"] + (["road_combined"] if road_fractions else [])
    m = method.pair_maps.shape[0]
    blurred = blurred_to_reference(result, method, reference_name)
    if blurred is None:  # the reference itself
        nothing = method.pair_maps.new_full((m,), float("nan"))
        return {**{c + BLURRED: nothing for c in columns}, "blur_sigma": nothing}
    maps, sigma = blurred
    sigmas = method.pair_maps.new_full((m,), sigma)
    if sigma == 0:  # already as smooth as the reference: the same games, the same numbers
        return {**{c + BLURRED: unblurred[c] for c in columns}, "blur_sigma": sigmas}
    _, played = _play_games(
        classifier, result.images[result.pair_images], maps, result.pair_classes, score,
        deletion_steps, canvas, road_fractions or None,
    )  # fmt: skip
    out = {column + BLURRED: played[column] for column in columns}
    out["blur_sigma"] = sigmas
    return out


def score_batch(
    methods: Sequence[MethodSpec],
    classifier: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    segmentation: torch.Tensor | None,
    deletion_steps: int = 32,
    score: str = "sigmoid",
    canvas: str = "blur",
    road: bool = False,
    controls: bool = True,
    pointing_truth: torch.Tensor | None = None,
    original_sizes: torch.Tensor | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[ComparisonResult, BatchFaithfulness]:
    """Every method's maps and scores on one batch, and their faithfulness games: the one
    batch scoring that :func:`~captum_explainer.evaluation.evaluate` runs per batch and the
    demo runs on its images (:func:`~captum_explainer.evaluation.compare`, then
    :func:`score_faithfulness` with the controls and, with ``road``, ROAD at
    :data:`~captum_explainer.metrics.ROAD_FRACTIONS`).

    Example:
        >>> from captum_explainer import GradCAM, SyntheticScenes
        >>> from captum_explainer.data import collate_items
        >>> from captum_explainer.evaluation import MethodSpec
        >>> from captum_explainer.evaluation.faithfulness import score_batch
        >>> from captum_explainer.models import synthetic_classifier
        >>> model = synthetic_classifier()
        >>> images, labels, segmentation = collate_items(list(SyntheticScenes(2, seed=1)))
        >>> result, games = score_batch(
        ...     [MethodSpec("Grad-CAM", GradCAM(model))], model, images, labels, segmentation,
        ...     deletion_steps=4,
        ... )
        >>> sorted(games.per_pair["Grad-CAM"])[:2]
        ['blank_score', 'blur_sigma']
    """
    result = compare(
        methods,
        images,
        labels,
        segmentation,
        progress=progress,
        pointing_truth=pointing_truth,
        original_sizes=original_sizes,
    )
    faithfulness = score_faithfulness(
        classifier,
        methods,
        result,
        score,
        deletion_steps,
        canvas=canvas,
        road_fractions=ROAD_FRACTIONS if road else None,
        controls=controls,
    )
    return result, faithfulness
