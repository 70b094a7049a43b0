"""captum-explainer: class-specific explanations for image classifiers, as a Captum plugin."""

from captum_explainer import attr
from captum_explainer._version import __version__
from captum_explainer.amortized.fit import fit_amortized
from captum_explainer.attr import *  # noqa: F403 -- every attribution class: attr's one export list
from captum_explainer.data import RealObjects, SyntheticScenes
from captum_explainer.explainer.fit import fit_explainer

__all__ = [
    *attr.__all__,
    "RealObjects",
    "SyntheticScenes",
    "__version__",
    "fit_amortized",
    "fit_explainer",
]
