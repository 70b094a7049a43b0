"""captum-explainer: class-specific explanations for image classifiers, as a Captum plugin."""

from captum_explainer._version import __version__
from captum_explainer.attr import (
    RISE,
    ExplainerAttribution,
    FGVis,
    GradCAM,
    IntegratedGradients,
    ScoreCAM,
    UndesirablePixels,
)
from captum_explainer.data import SyntheticScenes
from captum_explainer.explainer.fit import fit_explainer

__all__ = [
    "ExplainerAttribution",
    "FGVis",
    "GradCAM",
    "IntegratedGradients",
    "RISE",
    "ScoreCAM",
    "SyntheticScenes",
    "UndesirablePixels",
    "__version__",
    "fit_explainer",
]
