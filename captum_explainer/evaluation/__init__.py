"""The one path from images to numbers (as TorchRay keeps its ``benchmark/``).

- :mod:`.catalogue`: one record per method (key, name, build, presets, traits);
- :mod:`.run`: run methods on one batch, time them, score them (``compare``, the
  faithfulness games);
- :mod:`.evaluate`: over a dataset, one process or ``torchrun``, merged exactly;
- :mod:`.measure`: timing and memory, shared by the comparison and the benchmark.

The applications (:mod:`captum_explainer.tasks`: the demo, the benchmark, ...) call them.
Tables, CSV and the HTML report are written by :mod:`captum_explainer.report`, figures by
:mod:`captum_explainer.report.figures`.
"""

from captum_explainer.evaluation.catalogue import (
    MethodRecord,
    MethodSpec,
    Models,
    build_methods,
    default_methods,
    method_keys,
    method_record,
    method_records,
    register_method,
    unregister_method,
)
from captum_explainer.evaluation.evaluate import EvaluationResult, evaluate
from captum_explainer.evaluation.run import (
    BatchFaithfulness,
    ComparisonResult,
    MethodResult,
    all_class_maps,
    compare,
    score_faithfulness,
)

__all__ = [
    "BatchFaithfulness",
    "ComparisonResult",
    "EvaluationResult",
    "MethodRecord",
    "MethodResult",
    "MethodSpec",
    "Models",
    "all_class_maps",
    "build_methods",
    "compare",
    "default_methods",
    "evaluate",
    "method_keys",
    "method_record",
    "method_records",
    "register_method",
    "score_faithfulness",
    "unregister_method",
]
