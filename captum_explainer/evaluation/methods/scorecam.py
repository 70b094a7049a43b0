"""Score-CAM's record."""

from __future__ import annotations

from typing import Any

import torch

from captum_explainer.attr import ScoreCAM
from captum_explainer.attr._cam import layer_activations
from captum_explainer.attr.scorecam import channel_masks
from captum_explainer.evaluation.registry import MethodRecord, Models, register_method
from captum_explainer.evaluation.timing import BarePasses, forward_passes, in_sequence


def scorecam_passes(
    models: Models, images: torch.Tensor, target: int, kwargs: dict[str, Any]
) -> BarePasses:
    """One clean forward and a forward of every image masked by each of its layer's
    channels (the first image masked by its own channel masks, as the method's passes see
    it, repeated to fill a pass)."""
    classifier, layer = models.classifier, models.cam_layer(images)
    activations = layer_activations(classifier, layer, (images[:1],))[0]
    channels = activations.shape[1]
    per_pass, n = kwargs.get("perturbations_per_eval", 64), images.shape[0]
    masks = channel_masks(activations, images.shape[-2:])[0]
    picked = torch.arange(per_pass, device=images.device) % channels
    masked = images[:1] * masks[picked][:, None]
    return BarePasses(
        in_sequence(
            forward_passes(classifier, images, 1),
            forward_passes(classifier, masked, -(-n * channels // per_pass)),
        ),
        f"baseline: 1 forward + {n} x {channels} masked-image forwards, {per_pass} per pass",
    )


RECORD = register_method(
    MethodRecord(
        key="scorecam",
        name="Score-CAM",
        build=lambda m: ScoreCAM(m.classifier, m.cam_layer(), score=m.score),
        presets=dict(
            demo=dict(perturbations_per_eval=128),
            quick=dict(perturbations_per_eval=64),
            sanity=dict(perturbations_per_eval=128),
            benchmark=dict(perturbations_per_eval=64),
            large=dict(perturbations_per_eval=32),
        ),
        passes=scorecam_passes,
        specificity=True,
        # Its map sums hundreds of channels with near-equal weights, whose cancellation
        # lifts the float32 rounding of the masked passes (batched differently) to ~1e-3 of
        # the map's range; in float64 the two agree to 1e-15 (tests/test_scorecam.py).
        batch_tolerance=1e-3,
        column=80,
        doc="Score-CAM: the layer's channels as masks, weighted by the class score they keep",
    )
)
