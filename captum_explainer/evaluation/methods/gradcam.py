"""Grad-CAM's record."""

from __future__ import annotations

from typing import Any

import torch

from captum_explainer.attr import GradCAM
from captum_explainer.attr._cam import TokenLayer
from captum_explainer.evaluation.registry import MethodRecord, Models, register_method
from captum_explainer.evaluation.timing import BarePasses, forward_backward_passes


def gradcam_passes(
    models: Models, images: torch.Tensor, target: int, kwargs: dict[str, Any]
) -> BarePasses:
    """One forward and one backward to the CAM layer."""
    layer = models.cam_layer(images)
    module = layer.module if isinstance(layer, TokenLayer) else layer
    return BarePasses(
        forward_backward_passes(models.classifier, images, 1, target, module),
        "baseline: 1 forward + backward to the layer",
    )


RECORD = register_method(
    MethodRecord(
        key="gradcam",
        name="Grad-CAM",
        build=lambda m: GradCAM(m.classifier, m.cam_layer()),
        presets=dict(demo={}, quick={}, sanity={}, benchmark={}, large={}),
        passes=gradcam_passes,
        specificity=True,
        sanity_kwargs=dict(relu_attributions=False),
        in_demo_sanity=True,
        # The faithfulness games' sharpness control blurs every map to Grad-CAM's roughness.
        blur_reference=True,
        explain_default=True,
        column=20,
        doc="Grad-CAM on the classifier's last spatial layer, upsampled",
    )
)
