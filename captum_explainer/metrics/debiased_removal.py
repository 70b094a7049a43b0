"""Deprecated: ROAD moved to :mod:`captum_explainer.metrics.road` in 0.4 (named for what it
holds). The names of 0.3 work until 0.5, with a ``DeprecationWarning``."""

import sys

from captum_explainer._deprecation import moved

# The module, not the function metrics/__init__ binds to the same name.
__getattr__ = moved(__name__, sys.modules["captum_explainer.metrics.road"], {})
