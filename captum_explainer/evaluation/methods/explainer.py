"""The learned Explainer's record: every class's mask in one pass of its own network."""

from __future__ import annotations

from typing import Any

import torch

from captum_explainer.attr import ExplainerAttribution
from captum_explainer.evaluation.registry import MethodRecord, Models, register_method
from captum_explainer.evaluation.timing import BarePasses, forward_passes
from captum_explainer.models.inference import like_network
from captum_explainer.models.loading import load_explainer
from captum_explainer.models.pretrained import synthetic_explainer


def explainer_passes(
    models: Models, images: torch.Tensor, target: int, kwargs: dict[str, Any]
) -> BarePasses:
    """The network's one forward on the input in its own memory layout (the copy into it,
    and the maps' copy back to the standard layout, are the method's overhead)."""
    network = models.network("explainer")
    (images,) = like_network(network, (images,))
    return BarePasses(forward_passes(network, images, 1), "baseline: 1 Explainer forward")


RECORD = register_method(
    MethodRecord(
        key="explainer",
        name="Explainer",
        build=lambda m: ExplainerAttribution(m.network("explainer"), m.classifier),
        presets=dict(demo={}, quick={}, sanity={}, benchmark={}, large={}),
        passes=explainer_passes,
        scale="none",
        specificity=True,
        ranking=dict(output="logits"),
        model_dependent=False,
        network="explainer",
        load_network=lambda path, device: load_explainer(path, device)[0],
        shipped_network=synthetic_explainer,
        time_reference=True,
        leakage_check=True,
        column=10,
        doc="the learned Explainer: every class's mask in one forward pass",
    )
)
