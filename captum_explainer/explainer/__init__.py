"""What trains an Explainer: its loss (one function per term), the training loop and the
one call for a user's own classifier (:func:`fit_explainer`)."""

from captum_explainer.explainer.fit import fit_explainer
from captum_explainer.explainer.loss import PRESETS, LossWeights, explainer_loss, merged_masks
from captum_explainer.explainer.train import ExplainerTrainingConfig, train_explainer

__all__ = [
    "PRESETS",
    "ExplainerTrainingConfig",
    "LossWeights",
    "explainer_loss",
    "fit_explainer",
    "merged_masks",
    "train_explainer",
]
