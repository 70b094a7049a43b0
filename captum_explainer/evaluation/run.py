"""Deprecated: ``evaluation/run.py`` of 0.3 was split along its seams in 0.4:
:mod:`.comparison` (the result types, ``compare``, the maps and their ground-truth scores),
:mod:`.faithfulness` (the games), :mod:`.controls` (the controls beside them) and
:mod:`.aggregate` (how values become a row). The names of 0.3 work until 0.5, with a
``DeprecationWarning`` naming their new module."""

import warnings
from typing import Any

from captum_explainer.evaluation import aggregate, comparison, controls, faithfulness


def __getattr__(name: str) -> Any:
    target = name
    for module in (comparison, faithfulness, controls, aggregate):
        if hasattr(module, target):
            warnings.warn(
                f"{__name__}.{name} is deprecated and will be removed in 0.5; use "
                f"{module.__name__}.{target}",
                DeprecationWarning,
                stacklevel=2,
            )
            return getattr(module, target)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
