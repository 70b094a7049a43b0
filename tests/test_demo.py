"""The demo's main job, and `--retrain`, with quick training commands."""

import pytest

from captum_explainer import cli
from captum_explainer.cli import main
from captum_explainer.models import pretrained

TINY = (
    "--train-size 32 --val-size 16 --epochs 1 --max-steps-per-epoch 1 --batch-size 8 --no-progress"
)


@pytest.mark.slow
def test_demo_retrain_trains_both_models_then_writes_the_report(tmp_path, monkeypatch):
    commands = {
        pretrained.SYNTHETIC_CLASSIFIER: {
            "command": f"captum-explainer train-classifier --out x {TINY}"
        },
        pretrained.SYNTHETIC_EXPLAINER: {
            "command": f"captum-explainer train-explainer --out y {TINY}"
        },
    }
    monkeypatch.setattr(pretrained, "manifest", lambda path: commands[path])
    out = tmp_path / "demo"
    assert main(["demo", "--retrain", "--n-images", "1", "--out", str(out), "--no-progress"]) == 0
    models = tmp_path / "demo-models"
    assert (models / "classifier" / "best.pt").exists() and (
        models / "explainer" / "best.pt"
    ).exists()
    html = (out / "report.html").read_text()
    for method in (
        "Explainer",
        "Grad-CAM",
        "RISE",
        "Integrated Gradients",
        "FGVis",
        "Undesirable pixels",
    ):
        assert f"<td>{method}</td>" in html
    for figure in ("comparison_grid", "class_specific_view", "deletion_insertion"):
        assert (out / f"{figure}.png").exists()


def test_replace_option():
    assert cli._replace_option(["--out", "a", "--x"], "--out", "b") == ["--out", "b", "--x"]
    assert cli._replace_option(["--x"], "--out", "b") == ["--x", "--out", "b"]
