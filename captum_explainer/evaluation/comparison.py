"""Run methods on one batch, time them and score their maps against the ground truth: where
a map becomes a number. ``evaluate`` (a dataset), the demo and ``compare`` all go through here.

Methods are ordinary Captum attribution objects with their keyword arguments
(:class:`~captum_explainer.evaluation.registry.MethodSpec`), so a user's own Captum method
(``captum.attr.Occlusion``, ...) is compared the same way. The faithfulness games are in
:mod:`.faithfulness`, their controls in :mod:`.controls`, and how values become a row in
:mod:`.aggregate`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from captum_explainer.evaluation.aggregate import summarize
from captum_explainer.evaluation.registry import MethodSpec
from captum_explainer.evaluation.timing import measure_peak_memory, timed
from captum_explainer.maps import to_pixel_map
from captum_explainer.metrics import (
    class_mask_scores,
    class_pairs,
    energy_pointing_game,
    mask_scores,
    merge_class_maps,
    pointing_game,
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
