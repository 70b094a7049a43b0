"""Deprecated: the catalogue of 0.3 became :mod:`captum_explainer.evaluation.registry` (the
record type, registering and looking up methods) and one record per method in
:mod:`captum_explainer.evaluation.methods`. The names of 0.3 work until 0.5, with a
``DeprecationWarning``."""

from captum_explainer._deprecation import moved
from captum_explainer.evaluation import registry

__getattr__ = moved(__name__, registry, {})
