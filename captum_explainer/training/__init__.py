"""Training loops shared by the classifier and the Explainer."""

from captum_explainer.training.loop import FitConfig, Trainer

__all__ = ["FitConfig", "Trainer"]
