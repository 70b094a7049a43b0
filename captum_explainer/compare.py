"""``from captum_explainer.compare import MethodSpec, compare``: the comparison's public names
at the import path the README teaches. The code lives in :mod:`captum_explainer.evaluation`
(the catalogue of methods in ``evaluation.registry``, the batch run in ``evaluation.comparison``)."""

from typing import Any

from captum_explainer.evaluation import catalogue
from captum_explainer.evaluation.comparison import (
    ComparisonResult,
    MethodResult,
    all_class_maps,
    compare,
)
from captum_explainer.evaluation.registry import (
    MethodRecord,
    MethodSpec,
    Models,
    build_methods,
    default_methods,
    method_keys,
    method_record,
    method_records,
    register_method,
)

__all__ = [
    "ComparisonResult",
    "MethodRecord",
    "MethodResult",
    "MethodSpec",
    "Models",
    "all_class_maps",
    "build_methods",
    "compare",
    "default_methods",
    "method_keys",
    "method_record",
    "method_records",
    "register_method",
]


def __getattr__(name: str) -> Any:
    """The deprecated tables of 0.3 (``METHOD_NAMES``, ...), derived from the records."""
    return getattr(catalogue, name)
