"""The undesirable-pixel maps' record."""

from __future__ import annotations

from typing import Any

import torch

from captum_explainer.attr import UndesirablePixels
from captum_explainer.evaluation.registry import MethodRecord, Models, register_method
from captum_explainer.evaluation.timing import BarePasses, mask_passes


def undesirable_passes(
    models: Models, images: torch.Tensor, target: int, kwargs: dict[str, Any]
) -> BarePasses:
    """The masked images' forward passes (its competitors' scores come from the same)."""
    return mask_passes(models.classifier, images, kwargs)


RECORD = register_method(
    MethodRecord(
        key="undesirable",
        name="Undesirable pixels",
        build=lambda m: UndesirablePixels(m.classifier, score=m.score),
        presets=dict(
            demo=dict(n_masks=4000),
            quick=dict(n_masks=24),
            sanity=dict(n_masks=1000),
            benchmark=dict(n_masks=4000, perturbations_per_eval=64),
            large=dict(n_masks=256, perturbations_per_eval=32),
        ),
        passes=undesirable_passes,
        seeded=True,
        work_arg="n_masks",
        work_unit="masks",
        labels_as="present",
        # Their maps show what *hinders* a class, not where it is, and a run per class
        # would cost K times the masks.
        per_class=False,
        # What hinders a class is not what the sanity checks compare against.
        in_default_sanity=False,
        recovery_check=True,
        column=70,
        doc="undesirable pixels: what lowers a class against its competitors",
    )
)
