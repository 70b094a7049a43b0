"""Deprecated: the figures moved to :mod:`captum_explainer.report.figures` in 0.4 (the output
layer: tables, the HTML report and figures together). This path works until 0.5, with a
``DeprecationWarning``; ``randomisation_figure`` is now ``randomization_figure``."""

from __future__ import annotations

import warnings
from typing import Any

from captum_explainer.report import figures


def __getattr__(name: str) -> Any:
    new = "randomization_figure" if name == "randomisation_figure" else name
    if not hasattr(figures, new):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"captum_explainer.visualization.{name} is deprecated and will be removed in 0.5; use "
        f"captum_explainer.report.figures.{new}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(figures, new)
