"""The paper's evaluation over a whole dataset, on one process or split across many.

Images are taken in fixed batches; under ``torchrun`` batch ``b`` goes to rank
``b % world_size``, so every batch is computed exactly as a single process computes it,
and rank 0 merges the raw per-image and per-pair values into the same numbers a
single-process run reports. Only rank 0 writes the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from captum_explainer.data import collate_items
from captum_explainer.distributed import DistributedContext
from captum_explainer.evaluation.aggregate import method_row, specificity_columns
from captum_explainer.evaluation.comparison import ComparisonResult
from captum_explainer.evaluation.controls import mask_only_checks, mask_only_columns
from captum_explainer.evaluation.faithfulness import BatchFaithfulness, score_batch
from captum_explainer.evaluation.registry import MethodSpec
from captum_explainer.metrics import MaskOnlyResult
from captum_explainer.report import uniform_rows


@dataclass
class MethodTotals:
    """What one method gathered over the images a process saw (mergeable by concatenation)."""

    per_image: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    per_pair: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    pair_classes: list[torch.Tensor] = field(default_factory=list)
    seconds: float = 0.0
    images: int = 0
    # (K, K + 1) sums over images containing t: the specificity matrix, then the unmasked score
    specificity_sum: torch.Tensor | None = None
    specificity_count: torch.Tensor | None = None  # (K,)
    specificity_blank: torch.Tensor | None = None  # (K,) the score on a blank image
    curve_sum: dict[str, torch.Tensor] = field(default_factory=dict)
    # With the controls: the pairs' binary shapes, one per batch (the ground truth's only in
    # the first method's totals: the pairs are the same for every method).
    shapes: list[torch.Tensor] = field(default_factory=list)
    truth_shapes: list[torch.Tensor] = field(default_factory=list)

    def add(self, values: dict[str, torch.Tensor], into: dict[str, list[torch.Tensor]]) -> None:
        for name, value in values.items():
            into.setdefault(name, []).append(value.detach().cpu())


@dataclass
class EvaluationResult:
    """Merged totals per method, the first batch's comparison (for the figures) and the
    warnings of the faithfulness games (a canvas or baseline that keeps the class).

    Example:
        >>> from captum_explainer import GradCAM, SyntheticScenes
        >>> from captum_explainer.evaluation import MethodSpec, evaluate
        >>> from captum_explainer.models import synthetic_classifier
        >>> model = synthetic_classifier()
        >>> methods = [MethodSpec("Grad-CAM", GradCAM(model))]
        >>> result = evaluate(methods, model, SyntheticScenes(4, seed=2), range(4), progress=False)
        >>> result.interrupted, result.num_classes, list(result.totals)
        (False, 8, ['Grad-CAM'])
    """

    totals: dict[str, MethodTotals]
    num_classes: int
    first_batch: ComparisonResult | None
    warnings: list[str] = field(default_factory=list)
    #: Set when the run was interrupted (Ctrl-C): the images it was asked for; the totals
    #: then cover only the batches finished before (``None``: the run finished).
    planned_images: int | None = None
    #: With the controls: the mask-only check of every method (and of ``"ground truth"``).
    mask_only: dict[str, MaskOnlyResult] = field(default_factory=dict)

    @property
    def interrupted(self) -> bool:
        return self.planned_images is not None

    def rows(self) -> list[dict[str, Any]]:
        """One row per method (:func:`~captum_explainer.evaluation.aggregate.method_row`:
        the one aggregation every report uses)."""
        rows = []
        for name, t in self.totals.items():
            row = method_row(
                name,
                {k: torch.cat(v) for k, v in t.per_image.items()},
                {k: torch.cat(v) for k, v in t.per_pair.items()},
                torch.cat(t.pair_classes),
                self.num_classes,
                images=t.images,
                seconds_per_image=t.seconds / max(t.images, 1),
            )
            # Every row has the same columns; NaN where specificity was not computed.
            row.update(
                specificity_columns(t.specificity_sum, t.specificity_count, t.specificity_blank)
            )
            row.update(mask_only_columns(self.mask_only, name))
            rows.append(row)
        return uniform_rows(rows)


def _batches(indices: Sequence[int], batch_size: int) -> list[list[int]]:
    return [list(indices[i : i + batch_size]) for i in range(0, len(indices), batch_size)]


def evaluate(
    methods: Sequence[MethodSpec],
    classifier: nn.Module,
    dataset: Dataset,
    indices: Sequence[int],
    batch_size: int = 16,
    context: DistributedContext | None = None,
    progress: bool = True,
    deletion_steps: int = 32,
    score: str = "sigmoid",
    canvas: str = "blur",
    road: bool = False,
    controls: bool = True,
) -> EvaluationResult | None:
    """Mask scores, pointing games, saliency metric, deletion/insertion and class specificity.

    The pointing game follows TorchRay's protocol (distance strictly below the tolerance);
    on a dataset with ``pointing_truth`` and ``original_size`` methods (VOC) it points at
    each class's bounding boxes with 15 pixels of the original image, as TorchRay's
    published VOC table does; elsewhere at the segmentation, 15 pixels at 224 scaled.

    Args:
        methods: the methods (:class:`MethodSpec`).
        classifier: the explained model.
        dataset: items ``(image, labels, segmentation)``; the caller chooses ``indices`` of
            images that have a segmentation and at least one label (the paper's protocol).
        indices: which items to evaluate, in order.
        batch_size: images per batch (also the unit split across processes).
        context: the distributed context; ``None`` for one process.
        progress: progress bar over this process's batches.
        deletion_steps: steps of the deletion and insertion curves.
        canvas: insertion's canvas (:data:`~captum_explainer.metrics.CANVASES`).
        road: also ROAD (remove and debias, :func:`~captum_explainer.metrics.road`) at
            :data:`~captum_explainer.metrics.ROAD_FRACTIONS`.
        controls: the faithfulness controls (:func:`score_faithfulness`): the sharpness
            control's columns, and the mask-only check over every pair of the run
            (``mask_only_accuracy`` against ``mask_only_chance`` and the ground truth's
            ``mask_only_truth``, on ``mask_only_test_masks`` held-out masks).
        self_contained: one ``report.html`` with the figures embedded.
        score: how the classifier's logits become probabilities for the faithfulness games
            (deletion, insertion, class specificity); ``blank_score`` in the rows is the
            class's score on the all-baseline image, the floor of the deletion curve.

    Returns:
        The merged result on rank 0 (and on a single process); ``None`` on other ranks.

    Example:
        >>> from captum_explainer import GradCAM, SyntheticScenes
        >>> from captum_explainer.evaluation import MethodSpec, evaluate
        >>> from captum_explainer.models import synthetic_classifier
        >>> model = synthetic_classifier()
        >>> scenes = SyntheticScenes(8, seed=2, split="test")
        >>> methods = [MethodSpec("Grad-CAM", GradCAM(model))]
        >>> result = evaluate(methods, model, scenes, range(8), batch_size=4, progress=False)
        >>> row = result.rows()[0]
        >>> row["method"], row["images"]
        ('Grad-CAM', 8)
    """
    context = context or DistributedContext()
    if len(indices) == 0:
        raise ValueError("indices is empty: no image to evaluate")
    num_classes = dataset[indices[0]][1].numel()
    batches = _batches(list(indices), batch_size)
    mine = [b for i, b in enumerate(batches) if i % context.world_size == context.rank]
    totals = {m.name: MethodTotals() for m in methods}
    warnings: list[str] = []
    first = None
    done = 0
    for batch_number, batch in enumerate(
        tqdm(mine, desc=f"evaluate (rank {context.rank})", disable=not progress)
    ):
        try:
            result, faithfulness = _score_batch(
                methods,
                classifier,
                dataset,
                batch,
                context,
                deletion_steps,
                score,
                canvas,
                road,
                controls,
            )
        except KeyboardInterrupt:
            # One process: what the finished batches gathered stays usable (the caller
            # writes it as a partial report); the batch under way is dropped whole. Under
            # torchrun every rank is stopped anyway, so nothing is kept.
            if context.enabled or done == 0:
                raise
            break
        if batch_number == 0 and context.is_main:
            first = result
        _accumulate(totals, methods, result, faithfulness)
        done += len(batch)
        for warning in faithfulness.warnings:
            if warning not in warnings:
                warnings.append(warning)
    merged = _merge(totals, context)
    if not context.is_main:
        return None
    planned = None if done == len(indices) or context.enabled else len(indices)
    checks = _mask_only(merged, num_classes) if controls else {}
    return EvaluationResult(merged, num_classes, first, warnings, planned, checks)


def _mask_only(totals: dict[str, MethodTotals], num_classes: int) -> dict[str, MaskOnlyResult]:
    """The mask-only check of every method over every pair of the run."""
    shapes = {name: torch.cat(t.shapes) for name, t in totals.items() if t.shapes}
    if not shapes:
        return {}
    first = next(iter(totals.values()))
    classes = torch.cat(first.pair_classes)
    truth = torch.cat(first.truth_shapes) if first.truth_shapes else None
    return mask_only_checks(shapes, classes, num_classes, truth)


def _score_batch(
    methods: Sequence[MethodSpec],
    classifier: nn.Module,
    dataset: Dataset,
    batch: list[int],
    context: DistributedContext,
    deletion_steps: int,
    score: str,
    canvas: str,
    road: bool = False,
    controls: bool = True,
) -> tuple[ComparisonResult, BatchFaithfulness]:
    """:func:`score_batch` of items ``batch`` of ``dataset``, on this process's device."""
    images, labels, segmentation = collate_items([dataset[i] for i in batch])
    pointing = {k: v.to(context.device) for k, v in _pointing_ground_truth(dataset, batch).items()}
    return score_batch(
        methods,
        classifier,
        images.to(context.device),
        labels.to(context.device),
        segmentation.to(context.device),
        deletion_steps,
        score,
        canvas,
        road,
        controls,
        **pointing,
    )


def _pointing_ground_truth(dataset: Dataset, batch: list[int]) -> dict[str, torch.Tensor]:
    """TorchRay's pointing-game ground truth where the dataset has it (VOC: each class's
    boxes, and the original image sizes for the 15-pixel tolerance); else nothing."""
    if not (hasattr(dataset, "pointing_truth") and hasattr(dataset, "original_size")):
        return {}
    return {
        "pointing_truth": torch.stack([dataset.pointing_truth(i) for i in batch]),
        "original_sizes": torch.stack([dataset.original_size(i) for i in batch]),
    }


def _accumulate(
    totals: dict[str, MethodTotals],
    methods: Sequence[MethodSpec],
    result: ComparisonResult,
    faithfulness: BatchFaithfulness,
) -> None:
    k = result.labels.shape[1]
    counts = result.labels.bool().sum(0).cpu().float()
    if faithfulness.truth_shapes is not None and methods:
        # The pairs, hence their ground truth, are the same for every method: kept once,
        # with the first method's totals, where the mask-only check reads them.
        totals[methods[0].name].truth_shapes.append(faithfulness.truth_shapes.cpu())
    for spec, method in zip(methods, result.methods):
        t = totals[spec.name]
        t.images += result.images.shape[0]
        t.seconds += method.seconds_per_image * result.images.shape[0]
        t.add({**method.per_image, **faithfulness.per_image[spec.name]}, t.per_image)
        t.add({**method.per_pair, **faithfulness.per_pair[spec.name]}, t.per_pair)
        t.pair_classes.append(result.pair_classes.cpu())
        if spec.name in faithfulness.shapes:
            t.shapes.append(faithfulness.shapes[spec.name].cpu())
        if t.specificity_sum is None:
            t.specificity_sum, t.specificity_count = torch.zeros(k, k + 1), torch.zeros(k)
        if spec.name in faithfulness.specificity:
            specificity = faithfulness.specificity[spec.name]
            means = torch.cat([specificity.matrix, specificity.unmasked[:, None]], dim=1)
            t.specificity_sum += torch.nan_to_num(means.cpu()) * counts[:, None]
            t.specificity_count += counts
            t.specificity_blank = specificity.blank.cpu()


def _merge(totals: dict[str, MethodTotals], context: DistributedContext) -> dict[str, MethodTotals]:
    """Gather every rank's totals on rank 0 and join them in batch order."""
    if not context.enabled:
        return _drop_empty_specificity(totals)
    gathered: list[dict[str, MethodTotals]] = [None] * context.world_size  # type: ignore[list-item]
    dist.all_gather_object(gathered, totals)
    if not context.is_main:
        return {}
    merged = {}
    for name in totals:
        parts = [g[name] for g in gathered]
        out = MethodTotals(
            seconds=sum(p.seconds for p in parts), images=sum(p.images for p in parts)
        )
        # Rank r holds batches r, r + W, ...: interleave back to the single-process order.
        n_batches = [len(p.pair_classes) for p in parts]
        for step in range(max(n_batches)):
            for rank, part in enumerate(parts):
                if step < n_batches[rank]:
                    for key, values in part.per_image.items():
                        out.per_image.setdefault(key, []).append(values[step])
                    for key, values in part.per_pair.items():
                        out.per_pair.setdefault(key, []).append(values[step])
                    out.pair_classes.append(part.pair_classes[step])
                    out.shapes += part.shapes[step : step + 1]
                    out.truth_shapes += part.truth_shapes[step : step + 1]
        sums = [p.specificity_sum for p in parts if p.specificity_sum is not None]
        counts = [p.specificity_count for p in parts if p.specificity_count is not None]
        out.specificity_sum = torch.stack(sums).sum(0) if sums else None
        out.specificity_count = torch.stack(counts).sum(0) if counts else None
        blanks = [p.specificity_blank for p in parts if p.specificity_blank is not None]
        out.specificity_blank = blanks[0] if blanks else None
        merged[name] = out
    return _drop_empty_specificity(merged)


def _drop_empty_specificity(totals: dict[str, MethodTotals]) -> dict[str, MethodTotals]:
    for t in totals.values():
        if t.specificity_count is not None and t.specificity_count.sum() == 0:
            t.specificity_sum = None
    return totals
