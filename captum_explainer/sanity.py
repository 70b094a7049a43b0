"""Deprecated: the randomization checks moved to :mod:`captum_explainer.metrics.randomization`
in 0.4, with US spellings (``model_randomization``, ...). The names of 0.3 work until 0.5, with a
``DeprecationWarning``."""

from captum_explainer._deprecation import moved
from captum_explainer.metrics import randomization

#: Names of 0.3 and their 0.4 replacements.
RENAMED = {
    "model_randomisation": "model_randomization",
    "model_randomisation_all": "model_randomization_all",
    "randomise_": "randomize_",
    "RandomisationResult": "RandomizationResult",
    "parameterised_layers": "parameterized_layers",
}

__getattr__ = moved(__name__, randomization, RENAMED)
