"""The one path from images to numbers (as TorchRay keeps its ``benchmark/``).

- :mod:`.registry`: the record type, registering, looking up and building methods by key;
- :mod:`.methods`: one file per method, each holding its record and registering it;
- :mod:`.run`: run methods on one batch, time them, score them (``compare``, the
  faithfulness games);
- :mod:`.evaluate`: over a dataset, one process or ``torchrun``, merged exactly;
- :mod:`.timing`: timing, memory and the bare passes, shared by the comparison and the
  benchmark.

The applications (:mod:`captum_explainer.tasks`: the demo, the benchmark, ...) call them.
Tables, CSV and the HTML report are written by :mod:`captum_explainer.report`, figures by
:mod:`captum_explainer.report.figures`.
"""

# Importing the methods package registers the package's records (one file per method).
from captum_explainer.evaluation import methods  # noqa: F401
from captum_explainer.evaluation.comparison import (
    ComparisonResult,
    MethodResult,
    all_class_maps,
    compare,
)
from captum_explainer.evaluation.evaluate import EvaluationResult, evaluate
from captum_explainer.evaluation.faithfulness import BatchFaithfulness, score_faithfulness
from captum_explainer.evaluation.registry import (
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
