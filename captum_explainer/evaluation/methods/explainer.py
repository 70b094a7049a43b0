"""The learned Explainer's record: every class's mask in one pass of its own network."""

from __future__ import annotations

from captum_explainer.attr import ExplainerAttribution
from captum_explainer.evaluation.registry import MethodRecord, register_method
from captum_explainer.evaluation.timing import network_passes
from captum_explainer.models.loading import load_explainer
from captum_explainer.models.pretrained import synthetic_explainer

RECORD = register_method(
    MethodRecord(
        key="explainer",
        name="Explainer",
        build=lambda m: ExplainerAttribution(m.network("explainer"), m.classifier),
        presets=dict(demo={}, quick={}, sanity={}, benchmark={}, large={}),
        # One forward of its own network.
        passes=lambda models, images, target, kwargs: network_passes(
            models.network("explainer"), images, "Explainer"
        ),
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
