import pytest
import torch
from torch import nn

from captum_explainer.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_state_dict_checked,
    save_checkpoint,
)
from captum_explainer.models import SmallCNN, load_classifier
from captum_explainer.output_files import atomic_write


def test_round_trip_and_kind(tmp_path):
    path = save_checkpoint(
        {"state_dict": {"w": torch.ones(2)}, "epoch": 3}, tmp_path / "a.pt", "classifier"
    )
    data = load_checkpoint(path, kind="classifier")
    assert data["epoch"] == 3 and torch.equal(data["state_dict"]["w"], torch.ones(2))
    with pytest.raises(CheckpointError, match="holds a 'classifier', expected a 'explainer'"):
        load_checkpoint(path, kind="explainer")


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    def fail(tmp):
        with open(tmp, "w") as f:
            f.write("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(tmp_path / "x.pt", fail)
    assert list(tmp_path.iterdir()) == []


def test_truncated_and_corrupt_files_name_the_file(tmp_path):
    path = save_checkpoint({"state_dict": SmallCNN().state_dict()}, tmp_path / "m.pt", "classifier")
    data = path.read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated.pt.*cannot be read"):
        load_checkpoint(truncated)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="garbage.pt.*cannot be read"):
        load_checkpoint(garbage)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_foreign_file_and_unsafe_pickle_are_refused(tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.ones(1)}, foreign)
    with pytest.raises(CheckpointError, match="not a captum-explainer checkpoint"):
        load_checkpoint(foreign)
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"format": "captum-explainer", "module": nn.Linear(1, 1)}, unsafe)
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(unsafe)  # weights_only=True refuses pickled modules


def _classifier_meta():
    return {
        "arch": "small_cnn",
        "num_classes": 5,
        "classes": list("abcde"),
        "image_size": [64, 64],
        "normalization": {"mean": [0.5] * 3, "std": [0.25] * 3},
    }


def test_mismatched_weights_give_one_clear_error(tmp_path):
    meta = _classifier_meta()
    path = save_checkpoint(
        {"state_dict": SmallCNN(num_classes=8).state_dict(), **meta},
        tmp_path / "m.pt",
        "classifier",
    )
    with pytest.raises(
        CheckpointError,
        match=r"m.pt.*do not fit SmallCNN: shape mismatches head.bias: file \(8,\) vs model \(5,\)",
    ):
        load_classifier(path)
    with pytest.raises(CheckpointError, match="missing keys"):
        load_state_dict_checked(SmallCNN(), {}, "empty")


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(classes=list("abc")), r"names 3 classes for a head of 5"),
        (dict(normalization={"mean": [0.5] * 3}), "normalization must hold 'mean' and 'std'"),
        (dict(classes=None), "lacks the field 'classes'"),
    ],
    ids=["short-class-list", "normalization", "missing-field"],
)
def test_classifier_metadata_is_checked_and_the_file_named(tmp_path, change, message):
    meta = dict(_classifier_meta(), state_dict=SmallCNN(num_classes=5).state_dict())
    meta.update(change)
    meta = {k: v for k, v in meta.items() if v is not None}
    path = save_checkpoint(meta, tmp_path / "meta.pt", "classifier")
    with pytest.raises(CheckpointError, match=f"meta.pt.*{message}"):
        load_classifier(path)
