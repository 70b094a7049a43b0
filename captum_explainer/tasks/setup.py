"""Deprecated: the applications' shared set-up moved to
:mod:`captum_explainer.tasks.task_setup` in 0.4 (this name read like a packaging script). The
names of 0.3 work until 0.5, with a ``DeprecationWarning``."""

from captum_explainer._deprecation import moved
from captum_explainer.tasks import task_setup

__getattr__ = moved(__name__, task_setup, {})
