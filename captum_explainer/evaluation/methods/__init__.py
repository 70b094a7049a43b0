"""The package's methods, one module per method: each holds its record (key, display name,
build, cost presets, work argument, traits, the benchmark's bare passes) and registers it.

Every module of this package is imported here, so that a method added as a new file is
registered without an edit elsewhere; the reports order the records by their ``column``.
A user's method is registered the same way from the user's own code
(:func:`~captum_explainer.evaluation.register_method`).
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
