"""The `evaluate` and `explain` commands, on data the tests write themselves."""

import importlib
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from captum_explainer.cli import main
from captum_explainer.data import SyntheticScenes

# The engine's module (the package exports its `evaluate` function under the same name).
# The batch scoring every evaluation batch goes through (evaluation.faithfulness.score_batch).
evaluation_engine = importlib.import_module("captum_explainer.evaluation.faithfulness")

FAST = ["--rise-masks", "40", "--fgvis-iterations", "3", "--no-progress"]


@pytest.fixture(scope="module")
def explainer_ckpt(tmp_path_factory):
    out = tmp_path_factory.mktemp("explainer")
    main(
        [
            "train-explainer",
            "--out",
            str(out),
            "--epochs",
            "1",
            "--train-size",
            "16",
            "--val-size",
            "8",
            "--batch-size",
            "8",
            "--max-steps-per-epoch",
            "1",
            "--no-progress",
        ]
    )
    return out / "best.pt"


def _rows(out):
    return {row["method"]: row for row in json.loads((out / "results.json").read_text())}


def test_evaluate_synthetic_writes_the_report(tmp_path, explainer_ckpt):
    out = tmp_path / "eval"
    code = main(
        [
            "evaluate",
            "--dataset",
            "synthetic",
            "--n-images",
            "4",
            "--batch-size",
            "2",
            "--explainer",
            str(explainer_ckpt),
            "--methods",
            "explainer",
            "gradcam",
            "rise",
            "--out",
            str(out),
            *FAST,
        ]
    )
    assert code == 0
    rows = _rows(out)
    assert set(rows) == {"Explainer", "Grad-CAM", "RISE"}
    for row in rows.values():
        assert row["images"] == 4
        for metric in (
            "continuous_iou",
            "mean_f1",
            "pointing_game",
            "saliency_metric",
            "deletion_auc",
            "insertion_auc",
            "specificity_diagonal",
        ):
            assert row[metric] >= 0 or metric == "saliency_metric", metric
    assert (out / "report.html").exists() and (out / "comparison_grid.png").exists()


def test_evaluate_reads_the_faithfulness_games_with_the_chosen_score(tmp_path):
    rows = {}
    for score in ("sigmoid", "softmax"):
        out = tmp_path / score
        argv = ["evaluate", "--n-images", "3", "--methods", "gradcam", "--out", str(out)]
        assert main([*argv, "--score", score, *FAST]) == 0
        rows[score] = _rows(out)["Grad-CAM"]
    # Grad-CAM's maps do not depend on the score; the games' readings do.
    assert rows["sigmoid"]["continuous_iou"] == rows["softmax"]["continuous_iou"]
    for metric in ("deletion_auc", "insertion_auc", "blank_score", "specificity_diagonal"):
        assert rows["sigmoid"][metric] != rows["softmax"][metric], metric
    assert all(0 <= row["blank_score"] <= 1 for row in rows.values())
    with pytest.raises(SystemExit) as error:  # argparse refuses it with exit status 2
        main(["evaluate", "--score", "logit", "--out", str(tmp_path / "x")])
    assert error.value.code == 2


def test_evaluate_reads_the_voc_and_coco_fixtures(tmp_path, voc_root, coco_root):
    # The fixtures hold the synthetic shapes: the shipped classifier's own classes.
    for dataset, root in (("voc2007", voc_root), ("coco2014", coco_root)):
        out = tmp_path / dataset
        code = main(
            [
                "evaluate",
                "--dataset",
                dataset,
                "--root",
                str(root),
                "--image-size",
                "48",
                "--methods",
                "gradcam",
                "integrated-gradients",
                "--out",
                str(out),
                *FAST,
            ]
        )
        assert code == 0, dataset
        assert _rows(out)["Grad-CAM"]["images"] == 6


def test_evaluate_errors(tmp_path, capsys):
    assert (
        main(
            [
                "evaluate",
                "--dataset",
                "voc2007",
                "--root",
                str(tmp_path),
                "--methods",
                "gradcam",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "VOC-2007 not found" in capsys.readouterr().err
    assert main(["evaluate", "--methods", "occlusion", "--out", str(tmp_path / "o")]) == 2
    assert "unknown method 'occlusion'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_evaluate_under_torchrun_matches_one_process(tmp_path, explainer_ckpt):
    args = [
        "evaluate",
        "--dataset",
        "synthetic",
        "--n-images",
        "6",
        "--batch-size",
        "2",
        "--explainer",
        str(explainer_ckpt),
        "--methods",
        "explainer",
        "gradcam",
        "rise",
        *FAST,
    ]
    single, split = tmp_path / "single", tmp_path / "split"
    # torchrun gives each process one thread; so does the single run, so that float
    # rounding is the same and the merged numbers must agree exactly.
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for launcher, out in (
        (["-m", "captum_explainer"], single),
        (
            [
                "-m",
                "torch.distributed.run",
                "--standalone",
                "--nproc_per_node=2",
                "-m",
                "captum_explainer",
            ],
            split,
        ),
    ):
        result = subprocess.run(
            [sys.executable, *launcher, *args, "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    a, b = _rows(single), _rows(split)
    for method in a:
        for key, value in a[method].items():
            if key != "seconds_per_image":
                # NaN where a column does not apply (the blur control's reference method).
                same = b[method][key] == value or (math.isnan(b[method][key]) and math.isnan(value))
                assert same, (method, key, value, b[method][key])


def _write_png(path, index=0):
    image, _, _ = SyntheticScenes(4, split="test", seed=5).render(index)
    Image.fromarray((image * 255).astype(np.uint8)).save(path)
    return path


def test_explain_writes_map_and_overlay(tmp_path, explainer_ckpt):
    images = [_write_png(tmp_path / "a.png", 0), _write_png(tmp_path / "b.png", 1)]
    out = tmp_path / "maps"
    code = main(
        [
            "explain",
            *map(str, images),
            "--method",
            "explainer",
            "--explainer",
            str(explainer_ckpt),
            "--target",
            "star",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "a_explainer_star.npy",
        "a_explainer_star.png",
        "b_explainer_star.npy",
        "b_explainer_star.png",
    ]
    saved = np.load(out / "a_explainer_star.npy")
    assert saved.shape == (64, 64) and saved.min() >= 0 and saved.max() <= 1
    assert main(["explain", str(images[0]), "--method", "gradcam", "--out", str(out)]) == 0


def test_explain_errors_leave_no_files(tmp_path, capsys):
    image = _write_png(tmp_path / "a.png")
    out = tmp_path / "maps"
    assert main(["explain", str(image), "--target", "dog", "--out", str(out)]) == 2
    assert "unknown class 'dog'" in capsys.readouterr().err
    assert main(["explain", str(image), str(tmp_path / "missing.png"), "--out", str(out)]) == 2
    assert "missing.png" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("not an image")
    assert main(["explain", str(tmp_path / "notes.txt"), "--out", str(out)]) == 2
    assert not out.exists()


@pytest.mark.parametrize(
    "command", ["demo", "train-classifier", "train-explainer", "evaluate", "explain"]
)
def test_every_command_has_help_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "example" in text and "--device" in text and "--seed" in text


def _interrupt_at_call(monkeypatch, call: int) -> None:
    """Make the evaluation's ``compare`` raise KeyboardInterrupt (Ctrl-C) on call ``call``."""
    real, calls = evaluation_engine.compare, []

    def compare(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation_engine, "compare", compare)


def test_ctrl_c_in_evaluate_leaves_a_partial_report(tmp_path, monkeypatch, capsys):
    _interrupt_at_call(monkeypatch, 3)
    out = tmp_path / "eval"
    argv = ["evaluate", "--n-images", "6", "--batch-size", "2", "--methods", "gradcam"]
    assert main([*argv, "--out", str(out), *FAST]) == 130
    captured = capsys.readouterr()
    assert "interrupted after 4 of 6 images; the partial report is" in captured.err
    rows = _rows(out)
    assert rows["Grad-CAM"]["images"] == 4 and 0 <= rows["Grad-CAM"]["continuous_iou"] <= 1
    assert "Interrupted (Ctrl-C) after 4 of 6 images" in (out / "report.html").read_text()
    # The same images, run to the end, give the same numbers for the batches it finished.
    monkeypatch.undo()
    full = tmp_path / "full"
    assert (
        main(
            [
                "evaluate",
                "--n-images",
                "4",
                "--batch-size",
                "2",
                "--methods",
                "gradcam",
                "--out",
                str(full),
                *FAST,
            ]
        )
        == 0
    )
    assert _rows(full)["Grad-CAM"]["continuous_iou"] == rows["Grad-CAM"]["continuous_iou"]


def test_ctrl_c_before_any_batch_finished_stops_like_ctrl_c(tmp_path, monkeypatch):
    _interrupt_at_call(monkeypatch, 1)
    with pytest.raises(KeyboardInterrupt) as error:
        main(
            [
                "evaluate",
                "--n-images",
                "4",
                "--methods",
                "gradcam",
                "--out",
                str(tmp_path / "eval"),
                *FAST,
            ]
        )
    assert type(error.value) is KeyboardInterrupt
    assert not (tmp_path / "eval" / "results.json").exists()
