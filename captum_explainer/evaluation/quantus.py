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

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from captum_explainer.attr import ExplainerAttribution
from captum_explainer.data._types import Normalization
from captum_explainer.evaluation.sanity import MODEL_DEPENDENT, catalogue_explain

#: What the bridge accepts: the model-dependent methods, and the Explainer (given its network).
QUANTUS_METHODS = (*MODEL_DEPENDENT, "explainer")


def quantus_explain_func(
    method: str,
    normalization: Normalization,
    explainer: nn.Module | None = None,
    settings: dict[str, dict[str, Any]] | None = None,
    score: str = "sigmoid",
    seed: int = 0,
    gradcam_layer: str | None = None,
) -> Callable[..., np.ndarray]:
    """``explain_func(model, inputs, targets, **kwargs) -> np.ndarray`` for Quantus.

    Args:
        method: a command-line method name (:data:`QUANTUS_METHODS`).
        normalization: the model's input normalisation (FGVis's black reference).
        explainer: the trained Explainer network, for ``method="explainer"``.
        settings: per-method keyword arguments, as ``default_methods`` takes them.
        score: the score the black-box and optimisation methods explain.
        seed: the random masks' seed.
        gradcam_layer: Grad-CAM's layer by name (e.g. ``"layer4"`` for a torchvision ResNet),
            found in whatever model Quantus hands over; default the model's ``target_layer``.

    Returns:
        The function; its maps are ``(N, 1, H, W)`` float32 numpy arrays.
    """
    if method not in QUANTUS_METHODS:
        raise ValueError(f"method must be one of {list(QUANTUS_METHODS)}, got {method!r}")
    if method == "explainer":
        if explainer is None:
            raise ValueError("method 'explainer' needs explainer=, the trained Explainer network")
        network = explainer

        def explain(model: nn.Module, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return ExplainerAttribution(network, model).attribute(images, target=targets)

    else:
        explain = catalogue_explain(method, normalization, settings, score, seed, gradcam_layer)

    def explain_func(model: nn.Module, inputs: Any, targets: Any, **_: Any) -> np.ndarray:
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
