"""Amortized RISE's record: a network trained on RISE's maps predicts them in one pass."""

from __future__ import annotations

from captum_explainer.attr import AmortizedAttribution
from captum_explainer.evaluation.registry import MethodRecord, register_method
from captum_explainer.evaluation.timing import network_passes
from captum_explainer.models.loading import load_amortized
from captum_explainer.models.pretrained import synthetic_amortized_rise

RECORD = register_method(
    MethodRecord(
        key="amortized-rise",
        name="Amortized RISE",
        build=lambda m: AmortizedAttribution(
            m.network("amortized-rise"), m.classifier, teacher="RISE"
        ),
        presets=dict(demo={}, quick={}, sanity={}, benchmark={}, large={}),
        # One forward of its own network.
        passes=lambda models, images, target, kwargs: network_passes(
            models.network("amortized-rise"), images, "network"
        ),
        specificity=True,
        model_dependent=False,
        network="amortized-rise",
        load_network=lambda path, device: load_amortized(path, device)[0],
        shipped_network=synthetic_amortized_rise,
        column=40,
        doc="RISE amortized: a network trained on RISE's maps predicts them in one pass",
    )
)
