"""The benchmark runs end to end on a tiny configuration (it is not a timed test)."""

import json
import math

from captum_explainer.cli import main
from captum_explainer.evaluation.catalogue import method_records


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
