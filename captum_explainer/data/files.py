"""Deprecated: a user's image folders and listings moved to
:mod:`captum_explainer.data.user_images` in 0.4 (this name read like the output files). The
names of 0.3 work until 0.5, with a ``DeprecationWarning``."""

from captum_explainer._deprecation import moved
from captum_explainer.data import user_images

#: Names of 0.3 and their 0.4 replacements.
RENAMED = {"IMAGE_EXTENSIONS": "IMAGE_SUFFIXES"}

__getattr__ = moved(__name__, user_images, RENAMED)
