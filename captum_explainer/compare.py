"""``from captum_explainer.compare import MethodSpec, compare``: the comparison's public names
at the import path the README teaches. The code lives in :mod:`captum_explainer.evaluation`
(the catalogue in ``evaluation.methods``, the batch run in ``evaluation.run``)."""

from captum_explainer.evaluation.methods import (
    DEMO_SETTINGS,
    METHOD_NAMES,
    SPECIFICITY_METHODS,
    MethodSpec,
    default_methods,
    select_methods,
)
from captum_explainer.evaluation.run import (
    ComparisonResult,
    MethodResult,
    all_class_maps,
    compare,
)

__all__ = [
    "DEMO_SETTINGS",
    "METHOD_NAMES",
    "SPECIFICITY_METHODS",
    "ComparisonResult",
    "MethodResult",
    "MethodSpec",
    "all_class_maps",
    "compare",
    "default_methods",
    "select_methods",
]
