"""The weights shipped with the package, ready to use: the synthetic world's models."""

from __future__ import annotations

import torch
from torch import nn

from captum_explainer.models._shipped import (
    ASSETS,
    SYNTHETIC_CLASSIFIER,
    SYNTHETIC_EXPLAINER,
    manifest,
    shipped,
)
from captum_explainer.models.registry import load_classifier, load_explainer

__all__ = [
    "ASSETS",
    "SYNTHETIC_CLASSIFIER",
    "SYNTHETIC_EXPLAINER",
    "manifest",
    "synthetic_classifier",
    "synthetic_explainer",
]


def synthetic_classifier(map_location: str | torch.device = "cpu") -> nn.Module:
    """The shipped :class:`SmallCNN` for the synthetic data, in ``eval()`` mode."""
    model, _ = load_classifier(shipped(SYNTHETIC_CLASSIFIER, "train-classifier"), map_location)
    return model


def synthetic_explainer(map_location: str | torch.device = "cpu") -> nn.Module:
    """The shipped :class:`SmallExplainer` for :func:`synthetic_classifier`, in ``eval()`` mode."""
    explainer, _ = load_explainer(shipped(SYNTHETIC_EXPLAINER, "train-explainer"), map_location)
    return explainer
