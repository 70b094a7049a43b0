"""The weights shipped with the package, ready to use: the synthetic world's models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from captum_explainer.models._shipped import (
    ASSETS,
    SYNTHETIC_AMORTIZED_RISE,
    SYNTHETIC_CLASSIFIER,
    SYNTHETIC_EXPLAINER,
    manifest,
    shipped,
)
from captum_explainer.models.loading import load_amortized, load_classifier, load_explainer

__all__ = [
    "ASSETS",
    "SYNTHETIC_AMORTIZED_RISE",
    "SYNTHETIC_CLASSIFIER",
    "SYNTHETIC_EXPLAINER",
    "load_models",
    "amortized_for",
    "manifest",
    "synthetic_amortized_rise",
    "synthetic_classifier",
    "synthetic_explainer",
]


def synthetic_classifier(map_location: str | torch.device = "cpu") -> nn.Module:
    """The shipped :class:`SmallCNN` for the synthetic data, in ``eval()`` mode.

    Example:
        >>> import torch
        >>> from captum_explainer.models import synthetic_classifier
        >>> model = synthetic_classifier()
        >>> model(torch.rand(2, 3, 64, 64)).shape, model.training  # 8 classes' logits
        (torch.Size([2, 8]), False)
    """
    model, _ = load_classifier(shipped(SYNTHETIC_CLASSIFIER, "train-classifier"), map_location)
    return model


def synthetic_explainer(map_location: str | torch.device = "cpu") -> nn.Module:
    """The shipped :class:`SmallExplainer` for :func:`synthetic_classifier`, in ``eval()`` mode.

    Example:
        >>> import torch
        >>> from captum_explainer.models import synthetic_explainer
        >>> synthetic_explainer()(torch.rand(2, 3, 64, 64)).shape  # 8 classes' mask logits
        torch.Size([2, 8, 64, 64])
    """
    explainer, _ = load_explainer(shipped(SYNTHETIC_EXPLAINER, "train-explainer"), map_location)
    return explainer


def synthetic_amortized_rise(map_location: str | torch.device = "cpu") -> nn.Module:
    """The shipped network that predicts :func:`synthetic_classifier`'s RISE maps (every
    class) in one pass, in ``eval()`` mode; use it through
    :class:`~captum_explainer.attr.AmortizedAttribution`.

    Example:
        >>> import torch
        >>> from captum_explainer.models import synthetic_amortized_rise
        >>> synthetic_amortized_rise()(torch.rand(2, 3, 64, 64)).shape  # 8 classes' RISE maps
        torch.Size([2, 8, 64, 64])
    """
    network, _ = load_amortized(shipped(SYNTHETIC_AMORTIZED_RISE, "train-amortized"), map_location)
    return network


def load_models(
    classifier: str | Path | None = None,
    explainer: str | Path | None = None,
    need_explainer: bool = False,
    map_location: str | torch.device = "cpu",
) -> tuple[nn.Module, nn.Module | None, dict[str, Any]]:
    """A classifier checkpoint, its Explainer and the classifier's metadata.

    Args:
        classifier: a classifier checkpoint; default the shipped synthetic classifier.
        explainer: an Explainer checkpoint; default the shipped Explainer when the
            classifier is the shipped one (loaded only if ``need_explainer`` or given).
        need_explainer: load the default Explainer even though none was given.
        map_location: device for the weights.

    Returns:
        ``(classifier, explainer or None, the classifier's checkpoint dictionary)``.
    """
    model, meta = load_classifier(classifier or SYNTHETIC_CLASSIFIER, map_location)
    path = explainer or (SYNTHETIC_EXPLAINER if classifier is None else None)
    loaded = None
    if path is not None and (need_explainer or explainer is not None):
        loaded, _ = load_explainer(path, map_location)
    return model, loaded, meta


def amortized_for(
    classifier: str | Path | None = None,
    amortized: str | Path | None = None,
    map_location: str | torch.device = "cpu",
) -> nn.Module | None:
    """The amortized RISE network for a classifier checkpoint: the one given, else the
    shipped one for the shipped classifier (``classifier=None``), else ``None``."""
    if amortized is not None:
        return load_amortized(amortized, map_location)[0]
    if classifier is None:
        return synthetic_amortized_rise(map_location)
    return None
