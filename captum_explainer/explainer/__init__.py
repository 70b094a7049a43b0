"""What trains an Explainer: its loss (one function per term) and the training loop."""

from captum_explainer.explainer.loss import PRESETS, LossWeights, explainer_loss, merged_masks
from captum_explainer.explainer.train import ExplainerTrainingConfig, train_explainer

__all__ = [
    "PRESETS",
    "ExplainerTrainingConfig",
    "LossWeights",
    "explainer_loss",
    "merged_masks",
    "train_explainer",
]
