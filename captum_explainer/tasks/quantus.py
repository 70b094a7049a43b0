"""A bridge to Quantus (Hedström et al. 2023): any of the package's methods as a Quantus
``explain_func``, so that Quantus's metrics run on it in one line.

Quantus hands the explanation function the model it is evaluating (for its randomisation
metrics, a randomised copy), numpy inputs and numpy targets, and expects numpy maps back. The
adapter rebuilds the method for the model it is handed (a Grad-CAM layer is found again by its
name there), reduces input-shaped maps to one value per pixel (``(N, 1, H, W)``, what Quantus's
localisation metrics compare with masks) and returns them as float32 numpy. Quantus itself is
an optional extra: ``pip install 'captum-explainer[quantus]'``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from captum_explainer.data.types import Normalization
from captum_explainer.evaluation.registry import method_record, record_explain

#: What the bridge says when a method whose maps do not come from the classifier is handed a
#: second model, as Quantus's model-randomisation metrics (MPRT, ...) do.
RANDOMIZATION_WARNING = (
    "{name}'s maps come from its own trained network, not from the classifier at run time: "
    "Quantus's model-randomisation metrics hand over a randomised classifier, which cannot "
    "change them, so they will score it as failing. Its randomisation check is retraining "
    "against a randomised classifier (for the Explainer: captum-explainer sanity "
    "--explainer-steps N, captum_explainer.tasks.sanity.explainer_randomization); see "
    "docs/evaluation.md"
)


def quantus_explain_func(
    method: str,
    normalization: Normalization,
    explainer: nn.Module | None = None,
    settings: dict[str, Any] | None = None,
    score: str = "sigmoid",
    seed: int = 0,
    gradcam_layer: str | None = None,
    preset: str = "demo",
    amortized: nn.Module | None = None,
    networks: Mapping[str, nn.Module] | None = None,
) -> Callable[..., np.ndarray]:
    """``explain_func(model, inputs, targets, **kwargs) -> np.ndarray`` for Quantus.

    Args:
        method: a method's record key (:func:`~captum_explainer.evaluation.registry.method_keys`).
        normalization: the model's input normalisation (FGVis's black reference).
        explainer: the trained Explainer network, for ``method="explainer"``.
        settings: ``attribute`` keyword arguments replacing the preset's.
        score: the score the black-box and optimisation methods explain.
        seed: the random masks' seed.
        gradcam_layer: the CAM methods' layer by name (e.g. ``"layer4"`` for a torchvision
            ResNet), found in whatever model Quantus hands over; default: found as Grad-CAM
            finds it.
        preset: the method's cost preset.
        amortized: the trained network, for ``method="amortized-rise"``.
        networks: the methods' trained networks by key (``explainer`` and ``amortized`` are
            shorthands for two of them), for a method whose record names one.

    Returns:
        The function; its maps are ``(N, 1, H, W)`` float32 numpy arrays.
    """
    record = method_record(method)
    explain = record_explain(
        record,
        normalization,
        preset,
        score,
        seed,
        gradcam_layer,
        settings,
        explainer,
        amortized,
        networks,
    )

    models_seen: list[int] = []

    def explain_func(model: nn.Module, inputs: Any, targets: Any, **_: Any) -> np.ndarray:
        if not record.model_dependent and id(model) not in models_seen:
            models_seen.append(id(model))
            if len(models_seen) == 2:
                warnings.warn(RANDOMIZATION_WARNING.format(name=record.name), stacklevel=2)
        device = next(model.parameters()).device
        images = torch.as_tensor(np.asarray(inputs), dtype=torch.float32, device=device)
        classes = torch.as_tensor(np.asarray(targets), dtype=torch.long, device=device).reshape(-1)
        was_training = model.training
        model.eval()
        try:
            maps = explain(model, images, classes)
        finally:
            model.train(was_training)
        return maps.detach().cpu().numpy().astype(np.float32)

    return explain_func
