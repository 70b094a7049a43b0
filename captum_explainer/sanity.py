"""Deprecated: the randomization checks moved to :mod:`captum_explainer.metrics.randomization`
in 0.4, with US spellings (``model_randomization``, ...). The names of 0.3 work until 0.5, with a
``DeprecationWarning``."""

from __future__ import annotations

import warnings
from typing import Any

from captum_explainer.metrics import randomization

#: Names of 0.3 and their 0.4 replacements.
RENAMED = {
    "model_randomisation": "model_randomization",
    "model_randomisation_all": "model_randomization_all",
    "randomise_": "randomize_",
    "RandomisationResult": "RandomizationResult",
    "parameterised_layers": "parameterized_layers",
}


def __getattr__(name: str) -> Any:
    new = RENAMED.get(name, name)
    if not hasattr(randomization, new):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"captum_explainer.sanity.{name} is deprecated and will be removed in 0.5; use "
        f"captum_explainer.metrics.randomization.{new}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(randomization, new)
