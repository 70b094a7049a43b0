"""One aggregation: the demo and ``evaluate`` score the same images into the same numbers
(every column both reports hold, timing aside), and a per-pair column is the mean of the
per-class means."""

from __future__ import annotations

import math

import torch

from captum_explainer.data import SYNTHETIC_NORMALIZATION, SyntheticScenes, collate_items
from captum_explainer.evaluation import Models, build_methods, evaluate, method_records
from captum_explainer.evaluation.aggregate import method_row
from captum_explainer.models import (
    synthetic_amortized_rise,
    synthetic_classifier,
    synthetic_explainer,
)
from captum_explainer.tasks.demo import measure_demo

#: Columns that time a run, which two runs never share.
TIMING = {"seconds_per_image", "peak_memory_mb", "images"}


def test_the_demos_images_through_evaluate_give_the_demos_numbers():
    classifier = synthetic_classifier()
    models = Models(
        classifier,
        synthetic_explainer(),
        SYNTHETIC_NORMALIZATION,
        amortized=synthetic_amortized_rise(),
    )
    quick = {record.key: record.presets["quick"] for record in method_records()}
    methods = build_methods(models, None, "demo", seed=0, overrides=quick)
    scenes = SyntheticScenes(4, split="test", seed=10_000)  # the demo's images (seed 0)
    images, labels, segmentation = collate_items([scenes[i] for i in range(len(scenes))])

    demo = measure_demo(classifier, methods, images, labels, segmentation, progress=False)
    demo_rows = {row["method"]: dict(row) for row in demo.result.rows()}
    for row in demo.faithfulness:
        demo_rows[row["method"]].update(row)
    evaluated = evaluate(
        methods, classifier, scenes, range(len(scenes)), batch_size=4, progress=False
    )
    evaluate_rows = {row["method"]: row for row in evaluated.rows()}

    assert set(demo_rows) == set(evaluate_rows) == {m.name for m in methods}
    compared = 0
    for name, row in demo_rows.items():
        shared = (set(row) & set(evaluate_rows[name])) - TIMING - {"method"}
        assert {"deletion_auc", "insertion_auc", "mean_f1", "pointing_game"} <= shared
        for column in shared:
            a, b = float(row[column]), float(evaluate_rows[name][column])
            assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, abs_tol=1e-6), (
                name,
                column,
                a,
                b,
            )
            compared += 1
    assert compared > 100


def test_a_per_pair_column_is_the_mean_of_the_class_means():
    # Class 0 has three pairs, class 1 one: the pairs' mean would weigh class 0 three times.
    values = torch.tensor([0.1, 0.1, 0.1, 0.9])
    row = method_row("m", {}, {"deletion_auc": values}, torch.tensor([0, 0, 0, 1]), 2)
    assert math.isclose(row["deletion_auc"], 0.5, abs_tol=1e-6)
    assert not math.isclose(float(values.mean()), 0.5)
