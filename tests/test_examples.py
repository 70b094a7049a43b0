"""The examples run as part of the tests (quick settings)."""

import subprocess
import sys
from pathlib import Path

from captum_explainer.evaluation import method_records

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(*args):
    return subprocess.run(
        [sys.executable, *map(str, args)], capture_output=True, text=True, timeout=600
    )


def test_all_methods_example(tmp_path):
    out = tmp_path / "methods.png"
    result = _run(EXAMPLES / "all_methods.py", "--fast", "--out", out)
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.stat().st_size > 10_000
    for record in method_records():  # every registered method, none listed by hand
        assert f"| {record.name} |" in result.stdout


def test_your_own_captum_method_example():
    result = _run(EXAMPLES / "your_own_captum_method.py")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| Occlusion |" in result.stdout and "| SmoothGrad-CAM |" in result.stdout


def test_fgvis_games_example():
    result = _run(EXAMPLES / "fgvis_games.py", "--fast", "--images", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| preservation | auto |" in result.stdout and "| deletion | auto |" in result.stdout


def test_your_own_classifier_example(tmp_path):
    """Folder data, a torchvision model, an Explainer in one call, maps and a report."""
    result = _run(
        EXAMPLES / "your_own_classifier.py", "--out", tmp_path, "--images", "12",
        "--classifier-steps", "2", "--explainer-epochs", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| Explainer |" in result.stdout and "| class_iou |" in result.stdout
    assert (tmp_path / "report" / "report.html").is_file()
    assert (tmp_path / "explainer" / "best.pt").is_file()
