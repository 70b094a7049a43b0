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

from captum_explainer.attr.utils import to_pixel_map
from captum_explainer.metrics.localization import (
    class_pairs,
    energy_pointing_game,
    mask_scores,
    merge_class_maps,
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
            :func:`~captum_explainer.metrics.localization.scale_maps`): ``"max"`` for
            saliency maps, ``"none"`` for masks.
        reduction: how an input-shaped attribution becomes one value per pixel.
        all_classes: use the method's ``attribute_all_classes`` (one pass for every
            class) when it has one.
    """

    name: str
    attribution: Any
    kwargs: dict[str, Any] = field(default_factory=dict)
    scale: str = "max"
    reduction: str = "abs_sum"
    all_classes: bool = True


@dataclass
class MethodResult:
    """What one method produced: its maps, its cost and (with ground truth) its scores."""

    name: str
    pair_maps: torch.Tensor  # (M, 1, H, W), one per (image, labelled class) pair
    merged: torch.Tensor  # (N, 1, H, W), max over each image's labelled classes, in [0, 1]
    seconds_per_image: float
    peak_memory_mb: float
    metrics: dict[str, float] = field(default_factory=dict)


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
            {"method": r.name, "seconds_per_image": r.seconds_per_image,
             "peak_memory_mb": r.peak_memory_mb, **r.metrics}
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
        rows = self.rows()
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()

    def to_json(self) -> str:
        return json.dumps(self.rows(), indent=2, default=float)


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
) -> ComparisonResult:
    """Explain every labelled class of every image with every method, and score the maps.

    Args:
        methods: the methods (:class:`MethodSpec`).
        images: ``(N, C, H, W)``.
        labels: ``(N, K)`` multi-hot: the classes explained (ground truth or predictions).
        segmentation: ``(N, H, W)`` ground truth; with it each method gets the mask
            scores, the pointing game and the energy pointing game.
        progress: called with each method's name before it runs.

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
        (pair_maps, seconds), peak = measure_peak_memory(
            lambda spec=spec: _timed(lambda: _pair_maps(spec, images, pair_images, pair_classes)),
            images.device,
        )
        merged = _merge_pairs(scale_maps(pair_maps, spec.scale), pair_images, pair_classes, labels)
        result = MethodResult(spec.name, pair_maps, merged, seconds / images.shape[0], peak)
        if segmentation is not None:
            result.metrics = _ground_truth_metrics(result, segmentation, pair_images, pair_classes, labels.shape[1])
        results.append(result)
    return ComparisonResult(results, images, labels, segmentation, pair_images, pair_classes)


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def _pair_maps(spec: MethodSpec, images: torch.Tensor, pair_images: torch.Tensor, pair_classes: torch.Tensor) -> torch.Tensor:
    attribution = spec.attribution
    if spec.all_classes and hasattr(attribution, "attribute_all_classes"):
        every = attribution.attribute_all_classes(images, **spec.kwargs)
        maps = every[pair_images, pair_classes][:, None]
    else:
        maps = attribution.attribute(images[pair_images], target=pair_classes, **spec.kwargs)
    return to_pixel_map(maps.detach(), spec.reduction).float()


def _merge_pairs(
    pair_maps: torch.Tensor, pair_images: torch.Tensor, pair_classes: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    n, k = labels.shape
    class_maps = pair_maps.new_zeros((n, k, *pair_maps.shape[-2:]))
    class_maps[pair_images, pair_classes] = pair_maps[:, 0]
    return merge_class_maps(class_maps, labels)


def _ground_truth_metrics(
    result: MethodResult, segmentation: torch.Tensor, pair_images: torch.Tensor,
    pair_classes: torch.Tensor, num_classes: int,
) -> dict[str, float]:
    scores = mask_scores(result.merged, segmentation)
    metrics = {name: float(values.nanmean()) for name, values in scores.items()}
    pair_seg = segmentation[pair_images]
    metrics["pointing_game"] = pointing_game(result.pair_maps, pair_seg, pair_classes, num_classes)["mean"]
    metrics["energy_pointing_game"] = energy_pointing_game(result.pair_maps, pair_seg, pair_classes, num_classes)["mean"]
    return metrics


def measure_peak_memory(fn: Callable[[], Any], device: torch.device | str = "cpu") -> tuple[Any, float]:
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
