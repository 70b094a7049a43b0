"""Deprecated: the checkpoint loaders moved to :mod:`captum_explainer.models.loading` in 0.4
(this name read like the method registry). The names of 0.3 work until 0.5, with a
``DeprecationWarning``."""

from captum_explainer._deprecation import moved
from captum_explainer.models import loading

__getattr__ = moved(__name__, loading, {})
