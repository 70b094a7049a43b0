"""Every 0.3 path the 0.4 renames left behind still works until 0.5, with a
``DeprecationWarning`` naming where the name lives now (CHANGELOG.md, "Renamed modules")."""

from __future__ import annotations

import importlib

import pytest

#: (0.3 module, name, 0.4 module, 0.4 name)
MOVED = [
    ("captum_explainer.evaluation.catalogue", "method_record", "captum_explainer.evaluation.registry", "method_record"),
    ("captum_explainer.evaluation.catalogue", "MethodRecord", "captum_explainer.evaluation.registry", "MethodRecord"),
    ("captum_explainer.evaluation.run", "compare", "captum_explainer.evaluation.comparison", "compare"),
    ("captum_explainer.evaluation.run", "score_faithfulness", "captum_explainer.evaluation.faithfulness", "score_faithfulness"),
    ("captum_explainer.evaluation.run", "mask_only_checks", "captum_explainer.evaluation.controls", "mask_only_checks"),
    ("captum_explainer.evaluation.run", "summarize", "captum_explainer.evaluation.aggregate", "summarize"),
    ("captum_explainer.evaluation.measure", "timed", "captum_explainer.evaluation.timing", "timed"),
    ("captum_explainer.files", "atomic_write", "captum_explainer.output_files", "atomic_write"),
    ("captum_explainer.data.files", "ImageFolderData", "captum_explainer.data.user_images", "ImageFolderData"),
    ("captum_explainer.data.files", "IMAGE_EXTENSIONS", "captum_explainer.data.user_images", "IMAGE_SUFFIXES"),
    ("captum_explainer.models.registry", "load_classifier", "captum_explainer.models.loading", "load_classifier"),
    ("captum_explainer.tasks.setup", "set_up", "captum_explainer.tasks.task_setup", "set_up"),
    ("captum_explainer.metrics.debiased_removal", "road", "captum_explainer.metrics", "road"),
    ("captum_explainer.tasks.demo", "measure", "captum_explainer.tasks.demo", "measure_demo"),
]  # fmt: skip


@pytest.mark.parametrize("old, name, new, new_name", MOVED, ids=lambda v: str(v))
def test_a_03_path_warns_and_gives_the_04_object(old, name, new, new_name):
    with pytest.warns(DeprecationWarning, match="removed in 0.5"):
        value = getattr(importlib.import_module(old), name)
    assert value is getattr(importlib.import_module(new), new_name)


def test_the_03_work_units_and_layer_lookup_still_answer():
    benchmark = importlib.import_module("captum_explainer.tasks.benchmark")
    registry = importlib.import_module("captum_explainer.evaluation.registry")
    with pytest.warns(DeprecationWarning, match="MethodRecord.unit"):
        assert benchmark.WORK_UNITS["n_masks"] == "masks"
    models = importlib.import_module("captum_explainer.models")
    classifier = models.synthetic_classifier()
    with pytest.warns(DeprecationWarning, match="cam_layer"):
        resolve = registry.resolve_cam_layer
    assert resolve(classifier, None, "features.block6") is classifier.get_submodule(
        "features.block6"
    )
