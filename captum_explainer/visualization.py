"""Deprecated: the figures moved to :mod:`captum_explainer.report.figures` in 0.4 (the output
layer: tables, the HTML report and figures together). This path works until 0.5, with a
``DeprecationWarning``; ``randomisation_figure`` is now ``randomization_figure``."""

from captum_explainer._deprecation import moved
from captum_explainer.report import figures

__getattr__ = moved(__name__, figures, {"randomisation_figure": "randomization_figure"})
