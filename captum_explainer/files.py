"""Deprecated: output-file safety moved to :mod:`captum_explainer.output_files` in 0.4 (this
name sat beside ``data/files.py``, the user's image folders). The names of 0.3 work until
0.5, with a ``DeprecationWarning``."""

import captum_explainer.output_files as output_files
from captum_explainer._deprecation import moved

__getattr__ = moved(__name__, output_files, {})
