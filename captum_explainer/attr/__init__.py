"""Attribution methods, each a Captum attribution class in its own file."""

from captum_explainer.attr.amortized import AmortizedAttribution
from captum_explainer.attr.explainer import ExplainerAttribution
from captum_explainer.attr.fgvis import FGVis
from captum_explainer.attr.gradcam import GradCAM
from captum_explainer.attr.integrated_gradients import IntegratedGradients
from captum_explainer.attr.rise import RISE
from captum_explainer.attr.scorecam import ScoreCAM
from captum_explainer.attr.undesirable import UndesirablePixels
from captum_explainer.maps import expand_to_input, to_numpy_image, to_pixel_map

__all__ = [
    "AmortizedAttribution",
    "ExplainerAttribution",
    "FGVis",
    "GradCAM",
    "IntegratedGradients",
    "RISE",
    "ScoreCAM",
    "UndesirablePixels",
    "expand_to_input",
    "to_numpy_image",
    "to_pixel_map",
]
