"""Deprecated: timing and the bare passes moved to :mod:`captum_explainer.evaluation.timing`
in 0.4 (``tasks/demo.measure`` was scoring, this module timing). The names of 0.3 work until
0.5, with a ``DeprecationWarning``."""

from captum_explainer._deprecation import moved
from captum_explainer.evaluation import timing

__getattr__ = moved(__name__, timing, {})
