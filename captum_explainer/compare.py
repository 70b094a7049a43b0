"""Run several attribution methods on the same batch, time them and score them.

Methods are ordinary Captum attribution objects with their keyword arguments, so a
user's own Captum method (``captum.attr.Occlusion``, ...) is compared the same way.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from captum_explainer.attr import (
    RISE,
    ExplainerAttribution,
    FGVis,
    GradCAM,
    IntegratedGradients,
    UndesirablePixels,
)
from captum_explainer.attr.utils import to_pixel_map
from captum_explainer.data._types import Normalization
from captum_explainer.metrics.localization import (
    class_pairs,
    energy_pointing_game,
    mask_scores,
    merge_class_maps,
    per_class_mean,
    pointing_game,
    scale_maps,
)


@dataclass
class MethodSpec:
    """One method of a comparison.

    Args:
        name: the column name.
        attribution: a Captum attribution object (anything with ``attribute(inputs, target=...)``).
        kwargs: passed to every ``attribute`` call.
        scale: how maps are brought to [0, 1] for the mask scores (see
            :func:`~captum_explainer.metrics.localization.scale_maps`): ``"minmax"`` for
            saliency maps, ``"none"`` for masks.
        reduction: how an input-shaped attribution becomes one value per pixel.
        all_classes: use the method's ``attribute_all_classes`` (one pass for every
            class) when it has one.
        labels_as: the keyword under which ``attribute`` receives the explained images'
            ``(N, K)`` labels, for a method that needs to know every class an image holds
            (undesirable pixels: its competitors are the classes the image does not hold).
    """

    name: str
    attribution: Any
    kwargs: dict[str, Any] = field(default_factory=dict)
    scale: str = "minmax"
    reduction: str = "abs_sum"
    all_classes: bool = True
    labels_as: str | None = None


@dataclass
class MethodResult:
    """What one method produced: its maps, its cost and (with ground truth) its scores."""

    name: str
    pair_maps: torch.Tensor  # (M, 1, H, W), one per (image, labelled class) pair
    merged: torch.Tensor  # (N, 1, H, W), max over each image's labelled classes, in [0, 1]
    seconds_per_image: float
    peak_memory_mb: float
    metrics: dict[str, float] = field(default_factory=dict)
    per_image: dict[str, torch.Tensor] = field(default_factory=dict)  # (N,) each
    per_pair: dict[str, torch.Tensor] = field(default_factory=dict)  # (M,) each
    class_maps: torch.Tensor | None = None  # (N, K, H, W) raw, where one pass gave every class


@dataclass
class ComparisonResult:
    """Every method's :class:`MethodResult` on one batch, convertible to a table."""

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
        """One dictionary per method: name, cost, then every metric."""
        return [
            {
                "method": r.name,
                "seconds_per_image": r.seconds_per_image,
                "peak_memory_mb": r.peak_memory_mb,
                **r.metrics,
            }
            for r in self.methods
        ]

    def to_markdown(self, digits: int = 3) -> str:
        rows = self.rows()
        columns = list(rows[0])
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for row in rows:
            lines.append("| " + " | ".join(_format(row[c], digits) for c in columns) + " |")
        return "\n".join(lines)

    def to_csv(self) -> str:
        return rows_to_csv(self.rows())

    def to_json(self) -> str:
        return json.dumps(self.rows(), indent=2, default=float)


#: Settings per method for the demo and ``evaluate`` (documented in docs/evaluation.md).
DEMO_SETTINGS: dict[str, dict[str, Any]] = {
    "RISE": dict(n_masks=4000),
    "Integrated Gradients": dict(n_steps=32, internal_batch_size=256),
    "FGVis": dict(n_iter=300),
    "Undesirable pixels": dict(n_masks=4000),
}


def default_methods(
    classifier: nn.Module,
    explainer: nn.Module | None,
    normalization: Normalization,
    seed: int = 0,
    settings: dict[str, dict[str, Any]] | None = None,
    score: str = "sigmoid",
) -> list[MethodSpec]:
    """The six methods as the demo and ``evaluate`` run them.

    Args:
        classifier: the explained model; explainer: its trained Explainer (``None`` leaves
            the Explainer out); normalization: the images' (FGVis's black reference);
        seed: the random masks' seed; settings: per-method keyword arguments overriding
            :data:`DEMO_SETTINGS`, keyed by method name.
        score: the score the black-box and optimisation methods explain (RISE, FGVis,
            undesirable pixels): ``"sigmoid"`` for a multi-label classifier (the package's
            own), ``"softmax"`` for a single-label one (see :func:`score_for_task`).
    """
    settings = {**DEMO_SETTINGS, **(settings or {})}
    specs = [
        MethodSpec("Explainer", ExplainerAttribution(explainer, classifier), scale="none"),
        MethodSpec("Grad-CAM", GradCAM(classifier)),
        MethodSpec("RISE", RISE(classifier, score=score), dict(seed=seed, **settings["RISE"])),
        MethodSpec(
            "Integrated Gradients",
            IntegratedGradients(classifier),
            dict(settings["Integrated Gradients"]),
        ),
        MethodSpec(
            "FGVis",
            FGVis(classifier, normalization=normalization, score=score),
            dict(settings["FGVis"]),
            scale="none",
            reduction="mean",
        ),
        MethodSpec(
            "Undesirable pixels",
            UndesirablePixels(classifier, score=score),
            dict(seed=seed, **settings["Undesirable pixels"]),
            labels_as="present",
        ),
    ]
    return [s for s in specs if explainer is not None or s.name != "Explainer"]


#: Methods whose every-class maps are cheap enough for class specificity (the others would
#: need one run per class and image: FGVis's optimisation, undesirable pixels' mask pass).
SPECIFICITY_METHODS = ("Explainer", "Grad-CAM", "RISE")

#: Command-line names of the methods.
METHOD_NAMES = {
    "explainer": "Explainer",
    "gradcam": "Grad-CAM",
    "rise": "RISE",
    "integrated-gradients": "Integrated Gradients",
    "fgvis": "FGVis",
    "undesirable": "Undesirable pixels",
}


def select_methods(specs: Sequence[MethodSpec], names: Sequence[str]) -> list[MethodSpec]:
    """The specs named on the command line (see :data:`METHOD_NAMES`), in that order."""
    unknown = [n for n in names if n not in METHOD_NAMES]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}; choose from {sorted(METHOD_NAMES)}")
    by_name = {s.name: s for s in specs}
    missing = [n for n in names if METHOD_NAMES[n] not in by_name]
    if missing:
        raise ValueError(f"method {missing[0]!r} needs --explainer (an Explainer checkpoint)")
    return [by_name[METHOD_NAMES[n]] for n in names]


def rows_to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """Rows of one table (dictionaries with the same keys) as CSV text."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _format(value: Any, digits: int) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def compare(
    methods: Sequence[MethodSpec],
    images: torch.Tensor,
    labels: torch.Tensor,
    segmentation: torch.Tensor | None = None,
    progress: Callable[[str], None] | None = None,
    pointing_truth: torch.Tensor | None = None,
    original_sizes: torch.Tensor | None = None,
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

    Returns:
        A :class:`ComparisonResult`.
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
            lambda spec=spec: _timed(
                lambda: _pair_maps(spec, images, labels, pair_images, pair_classes)
            ),
            images.device,
        )
        scaled = scale_maps(pair_maps, spec.scale)
        merged = _merge_pairs(scaled, pair_images, pair_classes, labels)
        result = MethodResult(spec.name, pair_maps, merged, seconds / images.shape[0], peak)
        result.class_maps = every
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
            result.metrics = summarize(
                result.per_image, result.per_pair, pair_classes, labels.shape[1]
            )
        results.append(result)
    return ComparisonResult(results, images, labels, segmentation, pair_images, pair_classes)


def all_class_maps(
    method: MethodSpec,
    images: torch.Tensor,
    num_classes: int,
    computed: torch.Tensor | None = None,
) -> torch.Tensor:
    """Every class's map of every image, ``(N, K, H, W)`` in [0, 1] by the method's rule.

    ``computed``: the raw maps a comparison already has (``MethodResult.class_maps``), so
    that a method's pass over every class is not run twice.
    """
    n, _, h, w = images.shape
    if computed is not None:
        maps = computed.reshape(n * num_classes, 1, h, w)
    elif hasattr(method.attribution, "attribute_all_classes"):
        maps = method.attribution.attribute_all_classes(images, **method.kwargs).reshape(
            n * num_classes, 1, h, w
        )
    else:
        repeated = images.repeat_interleave(num_classes, dim=0)
        classes = torch.arange(num_classes, device=images.device).repeat(n)
        maps = to_pixel_map(
            method.attribution.attribute(repeated, target=classes, **method.kwargs),
            method.reduction,
        )
    return scale_maps(maps.detach(), method.scale).reshape(n, num_classes, h, w)


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


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


def measure_peak_memory(
    fn: Callable[[], Any], device: torch.device | str = "cpu"
) -> tuple[Any, float]:
    """Run ``fn`` and return ``(its value, peak memory in MB above the level at the start)``.

    On CUDA this is ``torch.cuda.max_memory_allocated``; on the CPU the resident set
    size (RSS), sampled every 2 ms from ``/proc/self/statm`` by a background thread
    (where that file does not exist the peak is reported as NaN).
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        value = fn()
        torch.cuda.synchronize(device)
        return value, (torch.cuda.max_memory_allocated(device) - start) / 2**20
    if not os.path.exists("/proc/self/statm"):
        return fn(), float("nan")
    start = _rss_bytes()
    peak = [start]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            done.wait(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        value = fn()
    finally:
        done.set()
        sampler.join()
    peak[0] = max(peak[0], _rss_bytes())
    return value, (peak[0] - start) / 2**20


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
