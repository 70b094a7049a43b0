"""Amortized RISE's record: a network trained on RISE's maps predicts them in one pass."""

from __future__ import annotations

from typing import Any

import torch

from captum_explainer.attr import AmortizedAttribution
from captum_explainer.evaluation.registry import MethodRecord, Models, register_method
from captum_explainer.evaluation.timing import BarePasses, forward_passes
from captum_explainer.models.inference import like_network
from captum_explainer.models.loading import load_amortized
from captum_explainer.models.pretrained import synthetic_amortized_rise


def amortized_passes(
    models: Models, images: torch.Tensor, target: int, kwargs: dict[str, Any]
) -> BarePasses:
    """The network's one forward on the input in its own memory layout."""
    network = models.network("amortized-rise")
    (images,) = like_network(network, (images,))
    return BarePasses(forward_passes(network, images, 1), "baseline: 1 network forward")


RECORD = register_method(
    MethodRecord(
        key="amortized-rise",
        name="Amortized RISE",
        build=lambda m: AmortizedAttribution(
            m.network("amortized-rise"), m.classifier, teacher="RISE"
        ),
        presets=dict(demo={}, quick={}, sanity={}, benchmark={}, large={}),
        passes=amortized_passes,
        specificity=True,
        model_dependent=False,
        network="amortized-rise",
        load_network=lambda path, device: load_amortized(path, device)[0],
        shipped_network=synthetic_amortized_rise,
        column=40,
        doc="RISE amortized: a network trained on RISE's maps predicts them in one pass",
    )
)
