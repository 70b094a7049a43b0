"""captum-explainer: class-specific explanations for image classifiers, as a Captum plugin."""

__version__ = "0.2.0"

from captum_explainer.attr import (  # noqa: E402
    RISE,
    ExplainerAttribution,
    FGVis,
    GradCAM,
    IntegratedGradients,
    UndesirablePixels,
)
from captum_explainer.data import SyntheticScenes  # noqa: E402

__all__ = [
    "ExplainerAttribution",
    "FGVis",
    "GradCAM",
    "IntegratedGradients",
    "RISE",
    "SyntheticScenes",
    "UndesirablePixels",
    "__version__",
]
