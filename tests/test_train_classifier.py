import csv
import subprocess
import sys

import pytest
import torch

from captum_explainer import GradCAM
from captum_explainer.checkpoint import load_checkpoint
from captum_explainer.cli import main
from captum_explainer.models import load_classifier
from captum_explainer.training.loop import Trainer

SMALL = [
    "--train-size",
    "64",
    "--val-size",
    "32",
    "--batch-size",
    "16",
    "--image-size",
    "32",
    "--max-steps-per-epoch",
    "2",
    "--no-progress",
]


def _log(out):
    with open(out / "log.csv") as f:
        return list(csv.DictReader(f))


def test_train_classifier_writes_checkpoints_and_log(tmp_path):
    out = tmp_path / "run"
    assert main(["train-classifier", "--out", str(out), "--epochs", "2", *SMALL]) == 0
    assert {p.name for p in out.iterdir()} == {"best.pt", "last.pt", "log.csv"}
    rows = _log(out)
    assert [float(r["epoch"]) for r in rows] == [1.0, 2.0]
    assert {"train_loss", "val_loss", "val_mAP"} <= set(rows[0])
    model, meta = load_classifier(out / "best.pt")
    assert meta["classes"][0] == "circle" and meta["image_size"] == [32, 32]
    assert "train-classifier" in meta["command"] and meta["seed"] == 0
    assert not model.training


@pytest.mark.parametrize("arch", ["vit_tiny", "torchvision:vit_b_16"])
def test_a_vision_transformer_trains_at_the_datas_side_and_loads_back(tmp_path, arch):
    """ViTs hold one position embedding per patch: built at the data's side (32 px here,
    not torchvision's 224), stored with it and rebuilt at it; Grad-CAM finds its token
    layer."""
    out = tmp_path / "run"
    args = ["train-classifier", "--out", str(out), "--model", arch, "--epochs", "1", *SMALL]
    args[args.index("--max-steps-per-epoch") + 1] = "1"
    assert main(args) == 0
    model, meta = load_classifier(out / "best.pt")
    assert meta["arch"] == arch and meta["image_size"] == [32, 32]
    images = torch.rand(2, 3, 32, 32)
    assert model(images).shape == (2, 8)
    maps = GradCAM(model).attribute(images, target=1)
    assert maps.shape == (2, 1, 32, 32) and torch.isfinite(maps).all()


def test_resume_continues_where_it_stopped(tmp_path):
    out = tmp_path / "run"
    main(["train-classifier", "--out", str(out), "--epochs", "1", *SMALL])
    first = _log(out)
    before = load_checkpoint(out / "last.pt")
    # "Interrupted" after epoch 1: resume with a longer budget.
    main(["train-classifier", "--out", str(out), "--epochs", "3", "--resume", *SMALL])
    rows = _log(out)
    assert len(rows) == 3 and rows[0] == first[0]
    after = load_checkpoint(out / "last.pt")
    assert after["epoch"] == 3 and before["epoch"] == 1
    assert not torch.equal(after["state_dict"]["head.weight"], before["state_dict"]["head.weight"])


def test_interrupted_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    # Optimiser, schedule, data order and RNG are restored: an interruption during epoch 2
    # followed by --resume ends where an uninterrupted run ends.
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    main(["train-classifier", "--out", str(straight), "--epochs", "2", *SMALL])

    original = Trainer._run_epoch
    calls = {"n": 0}

    def crash_in_epoch_two(self, batches, train):
        calls["n"] += 1
        if calls["n"] == 3:  # epoch 1 train, epoch 1 val, then epoch 2 train
            raise KeyboardInterrupt
        return original(self, batches, train)

    monkeypatch.setattr(Trainer, "_run_epoch", crash_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        main(["train-classifier", "--out", str(interrupted), "--epochs", "2", *SMALL])
    monkeypatch.setattr(Trainer, "_run_epoch", original)
    assert load_checkpoint(interrupted / "last.pt")["epoch"] == 1
    main(["train-classifier", "--out", str(interrupted), "--epochs", "2", "--resume", *SMALL])
    a = load_checkpoint(straight / "last.pt")["state_dict"]
    b = load_checkpoint(interrupted / "last.pt")["state_dict"]
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)


def test_cli_errors_exit_nonzero_with_a_message(tmp_path, capsys):
    code = main(
        [
            "train-classifier",
            "--out",
            str(tmp_path / "x"),
            "--dataset",
            "voc2007",
            "--root",
            str(tmp_path / "missing"),
            "--no-progress",
        ]
    )
    assert code == 2
    assert "VOC-2007 not found" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_python_dash_m_and_help():
    result = subprocess.run(
        [sys.executable, "-m", "captum_explainer", "train-classifier", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "example:" in result.stdout and "--resume" in result.stdout
