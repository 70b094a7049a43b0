import csv
import subprocess
import sys
import textwrap

import pytest
import torch
from torch.utils.data import Dataset

from captum_explainer.checkpoint import CheckpointError, load_checkpoint
from captum_explainer.cli import main
from captum_explainer.data import SYNTHETIC_NORMALIZATION, SyntheticScenes
from captum_explainer.explainer import ExplainerTrainingConfig, train_explainer
from captum_explainer.models import (
    SmallExplainer,
    load_classifier,
    load_explainer,
    synthetic_classifier,
)
from captum_explainer.models.pretrained import SYNTHETIC_CLASSIFIER

SMALL = [
    "--train-size",
    "48",
    "--val-size",
    "16",
    "--batch-size",
    "8",
    "--image-size",
    "32",
    "--max-steps-per-epoch",
    "2",
    "--lr",
    "1e-3",
    "--no-progress",
]
CLASSES = list(SyntheticScenes.ALL_CLASSES)


def test_cli_trains_logs_every_term_and_resumes(tmp_path):
    out = tmp_path / "run"
    assert main(["train-explainer", "--out", str(out), "--epochs", "1", *SMALL]) == 0
    with open(out / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1
    for term in ("classification", "entropy", "tv", "area", "mask_mean", "non_target_mean", "loss"):
        assert f"train_{term}" in rows[0] and f"val_{term}" in rows[0]
    explainer, meta = load_explainer(out / "best.pt")
    assert isinstance(explainer, SmallExplainer) and meta["image_size"] == [32, 32]
    assert meta["loss_weights"]["l_m"] == 0.1 and "train-explainer" in meta["command"]
    assert main(["train-explainer", "--out", str(out), "--epochs", "2", "--resume", *SMALL]) == 0
    assert load_checkpoint(out / "last.pt")["epoch"] == 2


def test_frozen_classifier_is_bit_identical_after_training(tmp_path):
    classifier = synthetic_classifier()
    classifier.train()  # a user's model in train mode: training must not use or change that
    before = {k: v.clone() for k, v in classifier.state_dict().items()}
    data = SyntheticScenes(24, image_size=32)
    config = ExplainerTrainingConfig(
        out_dir=tmp_path, epochs=1, batch_size=8, lr=1e-3, progress=False
    )
    train_explainer(
        config,
        classifier,
        data,
        SyntheticScenes(8, image_size=32, split="val"),
        CLASSES,
        SYNTHETIC_NORMALIZATION,
    )
    after = classifier.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN statistics included
    assert classifier.training and all(p.requires_grad for p in classifier.parameters())


def test_mismatched_classifier_and_explainer(tmp_path):
    config = ExplainerTrainingConfig(out_dir=tmp_path, epochs=1, progress=False)
    data = SyntheticScenes(8, image_size=32)
    with pytest.raises(
        ValueError, match="classifier has 8 classes but the Explainer gives 5 masks"
    ):
        train_explainer(
            config,
            synthetic_classifier(),
            data,
            data,
            CLASSES,
            SYNTHETIC_NORMALIZATION,
            explainer=SmallExplainer(num_classes=5),
        )


class _Unlabelled(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return torch.zeros(3, 32, 32), torch.zeros(8), None


def test_empty_dataset_and_unlabelled_images_are_refused(tmp_path):
    config = ExplainerTrainingConfig(out_dir=tmp_path, epochs=1, batch_size=2, progress=False)
    with pytest.raises(ValueError, match="labels are all zero"):
        train_explainer(
            config,
            synthetic_classifier(),
            _Unlabelled(),
            _Unlabelled(),
            CLASSES,
            SYNTHETIC_NORMALIZATION,
        )
    with pytest.raises(ValueError, match="training set is empty"):
        train_explainer(
            config,
            synthetic_classifier(),
            torch.utils.data.TensorDataset(torch.zeros(0)),
            _Unlabelled(),
            CLASSES,
            SYNTHETIC_NORMALIZATION,
        )


def test_a_classifier_checkpoint_is_not_an_explainer():
    with pytest.raises(CheckpointError, match="holds a 'classifier', expected a 'explainer'"):
        load_explainer(SYNTHETIC_CLASSIFIER)
    load_classifier(SYNTHETIC_CLASSIFIER)


DDP_SCRIPT = textwrap.dedent("""
    import os, sys, torch
    from captum_explainer.data import SYNTHETIC_NORMALIZATION, SyntheticScenes
    from captum_explainer.distributed import cleanup_distributed, setup_distributed
    from captum_explainer.explainer import ExplainerTrainingConfig, train_explainer
    from captum_explainer.models import SmallExplainer, synthetic_classifier

    out = sys.argv[1]
    context = setup_distributed("cpu")
    torch.manual_seed(100 + context.rank)  # different starting weights: DDP must align them
    explainer = SmallExplainer()
    config = ExplainerTrainingConfig(out_dir=out, epochs=1, batch_size=4, lr=1e-3,
                                     max_steps_per_epoch=3, progress=False,
                                     init_from_classifier=False)
    train_explainer(config, synthetic_classifier(), SyntheticScenes(32, image_size=32),
                    SyntheticScenes(16, image_size=32, split="val"),
                    list(SyntheticScenes.ALL_CLASSES), SYNTHETIC_NORMALIZATION, context,
                    explainer=explainer)
    # Each rank saves what it holds, for the test to compare.
    os.makedirs(out, exist_ok=True)
    torch.save(explainer.state_dict(), os.path.join(out, f"rank{context.rank}.pt"))
    cleanup_distributed()
""")


@pytest.mark.slow
def test_two_processes_end_with_identical_weights(tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(DDP_SCRIPT)
    out = tmp_path / "ddp"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(script),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rank0 = torch.load(out / "rank0.pt", weights_only=True)
    rank1 = torch.load(out / "rank1.pt", weights_only=True)
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    # Only rank 0 wrote the checkpoints and the log; they hold what the ranks trained.
    assert {p.name for p in out.iterdir()} == {
        "best.pt",
        "last.pt",
        "log.csv",
        "rank0.pt",
        "rank1.pt",
    }
    saved = load_checkpoint(out / "last.pt")["state_dict"]
    assert all(torch.equal(saved[k], rank0[k]) for k in rank0)
