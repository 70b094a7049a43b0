"""Deprecated: ``evaluation/run.py`` of 0.3 was split along its seams in 0.4:
:mod:`.comparison` (the result types, ``compare``, the maps and their ground-truth scores),
:mod:`.faithfulness` (the games), :mod:`.controls` (the controls beside them) and
:mod:`.aggregate` (how values become a row). The names of 0.3 work until 0.5, with a
``DeprecationWarning`` naming their new module."""

from captum_explainer._deprecation import moved
from captum_explainer.evaluation import aggregate, comparison, controls, faithfulness

__getattr__ = moved(__name__, (comparison, faithfulness, controls, aggregate), {})
