"""RISE's record."""

from __future__ import annotations

from typing import Any

import torch

from captum_explainer.attr import RISE
from captum_explainer.evaluation.registry import MethodRecord, Models, register_method
from captum_explainer.evaluation.timing import BarePasses, mask_passes


def rise_passes(
    models: Models, images: torch.Tensor, target: int, kwargs: dict[str, Any]
) -> BarePasses:
    """The masked images' forward passes."""
    return mask_passes(models.classifier, images, kwargs)


RECORD = register_method(
    MethodRecord(
        key="rise",
        name="RISE",
        build=lambda m: RISE(m.classifier, score=m.score),
        presets=dict(
            demo=dict(n_masks=4000),
            quick=dict(n_masks=24),
            sanity=dict(n_masks=1000),
            benchmark=dict(n_masks=4000, perturbations_per_eval=64),
            large=dict(n_masks=256, perturbations_per_eval=32),
        ),
        passes=rise_passes,
        seeded=True,
        work_arg="n_masks",
        work_unit="masks",
        specificity=True,
        benchmark_scaling=True,
        column=30,
        doc="RISE: the class score's expectation over random masks",
    )
)
