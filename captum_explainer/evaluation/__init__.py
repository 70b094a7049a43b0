"""The one path from images to numbers (as TorchRay keeps its ``benchmark/``).

- :mod:`.methods`: the single catalogue of methods and their settings;
- :mod:`.run`: run methods on one batch, time them, score them (``compare``, the
  faithfulness games);
- :mod:`.evaluate`: over a dataset, one process or ``torchrun``, merged exactly;
- :mod:`.demo` and :mod:`.benchmark`: callers of the above;
- :mod:`.measure`: timing and memory, shared by the comparison and the benchmark.

Tables, CSV and the HTML report are written by :mod:`captum_explainer.report`, figures by
:mod:`captum_explainer.visualization`.
"""

from captum_explainer.evaluation.evaluate import EvaluationResult, evaluate
from captum_explainer.evaluation.methods import (
    DEMO_SETTINGS,
    METHOD_NAMES,
    SPECIFICITY_METHODS,
    MethodSpec,
    default_methods,
    select_methods,
)
from captum_explainer.evaluation.run import (
    BatchFaithfulness,
    ComparisonResult,
    MethodResult,
    all_class_maps,
    compare,
    score_faithfulness,
)

__all__ = [
    "DEMO_SETTINGS",
    "METHOD_NAMES",
    "SPECIFICITY_METHODS",
    "BatchFaithfulness",
    "ComparisonResult",
    "EvaluationResult",
    "MethodResult",
    "MethodSpec",
    "all_class_maps",
    "compare",
    "default_methods",
    "evaluate",
    "score_faithfulness",
    "select_methods",
]
