"""Amortized methods: any slow attribution method distilled into a network that gives its
maps of every class in one forward pass (:func:`fit_amortized`, ``captum-explainer
train-amortized``), used through :class:`~captum_explainer.attr.AmortizedAttribution`."""

from captum_explainer.amortized.fit import fit_amortized, run_amortized_training
from captum_explainer.amortized.teacher import Teacher
from captum_explainer.amortized.train import (
    AmortizedTrainingConfig,
    map_correlation,
    train_amortized,
)

__all__ = [
    "AmortizedTrainingConfig",
    "Teacher",
    "fit_amortized",
    "map_correlation",
    "run_amortized_training",
    "train_amortized",
]
