"""The benchmark runs end to end on a tiny configuration (it is not a timed test)."""

import json
import math
import time

import torch

from captum_explainer.cli import main
from captum_explainer.evaluation.registry import Models, method_record, method_records
from captum_explainer.evaluation.timing import time_paired
from captum_explainer.tasks.benchmark import (
    BenchmarkRow,
    model_cases,
    peak_in_fresh_process,
    scaling_warnings,
)


def test_tiny_benchmark_reports_every_method(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert (
        main(
            [
                "benchmark",
                "--models",
                "tiny",
                "--repeats",
                "1",
                "--warmup",
                "0",
                "--no-progress",
                "--no-fresh-peaks",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    methods = {row["method"] for row in report["rows"]}
    # Every registered method, each beside its bare passes; RISE also at half and twice its
    # quick preset's 24 masks (the scaling check).
    expected = {r.name for r in method_records() if not r.benchmark_scaling}
    expected |= {"RISE (24 masks)", "RISE (12 masks)", "RISE (48 masks)"}
    expected |= {"Captum LayerGradCam + interpolate", "Sanity: Grad-CAM, cascading randomisation"}
    assert expected <= methods
    for row in report["rows"]:
        assert row["seconds_per_image"] > 0 and row["baseline_seconds_per_image"] > 0
        assert math.isfinite(row["overhead_ratio"]) and row["peak_memory_mb"] >= 0
    assert "| tiny | Grad-CAM |" in capsys.readouterr().out


def _row(method, seconds, baseline, work, key="rise"):
    return BenchmarkRow("m", method, seconds, "", 0.0, baseline, seconds / baseline, "", key, work)


def test_the_scaling_self_check_flags_a_row_that_does_not_follow_its_work():
    # The defect the issue found: 8,000 masks timed like 4,000.
    rows = [
        _row("RISE (4000 masks)", 3.39, 3.38, 4000),
        _row("RISE (1000 masks)", 0.86, 0.84, 1000),
        _row("RISE (8000 masks)", 3.67, 3.44, 8000),
        _row("Explainer", 0.004, 0.004, None, key="explainer"),
    ]
    warnings = scaling_warnings(rows)
    assert len(warnings) == 2  # the method's time and its bare passes'
    assert warnings[0].startswith("m: rise's time per unit of work varies ")
    assert "across 4000/1000/8000" in warnings[0]
    # In proportion, within 20 %: quiet.
    rows[2] = _row("RISE (8000 masks)", 7.4, 7.0, 8000)
    assert scaling_warnings(rows) == []


def test_paired_timing_repeats_a_fast_call_until_a_sample_lasts():
    calls = []
    timing = time_paired(lambda: calls.append(1), lambda: time.sleep(0.01), 3, 1, min_seconds=0.05)
    assert timing.calls[0] > 100 and timing.calls[1] in (4, 5, 6)
    assert timing.ratio < 0.1 and timing.baseline.median > 0.009


def test_mask_methods_are_timed_against_passes_over_masked_images():
    model = torch.nn.Conv2d(3, 1, 1)
    seen = []
    model.register_forward_hook(lambda m, i, o: seen.append(i[0].clone()))
    images = torch.ones(2, 3, 8, 8)
    record = method_record("rise")
    passes = record.passes(Models(model), images, 0, {"n_masks": 10, "perturbations_per_eval": 4})
    passes.run()
    assert [x.shape[0] for x in seen] == [8, 8, 4]  # 2 images x (4, 4, 2) masks
    # Image-major copies of the image, each masked by RISE's own kind of mask.
    assert 0 < seen[0].mean() < 1 and not torch.equal(seen[0][0], seen[0][1])
    assert torch.equal(seen[0][:4], seen[0][4:]) and torch.equal(seen[2], seen[0][[0, 1, 4, 5]])


def test_peak_memory_is_measured_in_a_fresh_process():
    cases, _ = model_cases("tiny", torch.device("cpu"), peers=False)
    index = next(i for i, c in enumerate(cases) if c.name == "RISE (48 masks)")
    peak = peak_in_fresh_process("tiny", index, "cpu", peers=False)
    assert math.isfinite(peak) and peak >= 0


def test_scorecam_is_timed_against_passes_over_its_own_masked_images():
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 2),
    )
    seen = []
    model.register_forward_hook(lambda m, i, o: seen.append(i[0].clone()))
    images = torch.rand(2, 3, 8, 8) + 0.5
    passes = method_record("scorecam").passes(
        Models(model, layer=model[1]), images, 0, {"perturbations_per_eval": 6}
    )
    seen.clear()
    passes.run()
    # One clean forward of both images, then 2 x 4 masked images in passes of 6.
    assert [x.shape[0] for x in seen] == [2, 6, 6]
    assert torch.equal(seen[0], images)
    masked = seen[1]
    assert (masked <= images[:1] + 1e-6).all() and not torch.equal(masked[0], masked[1])
    assert torch.equal(masked[4], masked[0])  # 4 channels, repeated to fill the pass
