"""Integrated Gradients' record."""

from __future__ import annotations

from typing import Any

import torch

from captum_explainer.attr import IntegratedGradients
from captum_explainer.evaluation.registry import MethodRecord, Models, register_method
from captum_explainer.evaluation.timing import BarePasses, forward_backward_passes


def integrated_gradients_passes(
    models: Models, images: torch.Tensor, target: int, kwargs: dict[str, Any]
) -> BarePasses:
    """One forward and backward of every point on every image's path."""
    steps = kwargs["n_steps"]
    return BarePasses(
        forward_backward_passes(models.classifier, images.repeat_interleave(steps, 0), 1, target),
        f"baseline: forward + backward of {images.shape[0] * steps} images",
    )


RECORD = register_method(
    MethodRecord(
        key="integrated-gradients",
        name="Integrated Gradients",
        build=lambda m: IntegratedGradients(m.classifier),
        presets=dict(
            demo=dict(n_steps=32, internal_batch_size=256),
            quick=dict(n_steps=4),
            sanity=dict(n_steps=16),
            benchmark=dict(n_steps=50),
            large=dict(n_steps=16),
        ),
        passes=integrated_gradients_passes,
        work_arg="n_steps",
        work_unit="steps",
        map_kind="input",
        in_demo_sanity=True,
        column=50,
        doc="Integrated Gradients from the black image",
    )
)
