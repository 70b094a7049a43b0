"""Faults a user meets while training an Explainer (a classifier that starts returning NaN),
and images with another channel count than the classifier takes (in training, `evaluate`
and `explain`)."""

from __future__ import annotations

import re
import sys
import types

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torch.utils.data import TensorDataset

from captum_explainer import fit_explainer
from captum_explainer.checkpoint import load_checkpoint
from captum_explainer.data import Normalization
from captum_explainer.models.user import OwnClassifier
from captum_explainer.tasks.evaluate import run_evaluation
from captum_explainer.tasks.explain import explain_files


class TinyClassifier(nn.Module):
    """A 1-channel classifier that turns to NaN after ``healthy_calls`` forward passes."""

    def __init__(self, healthy_calls: int | None = None) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(4, 3)
        self.calls, self.healthy_calls = 0, healthy_calls

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        logits = self.head(self.features(x).mean((2, 3)))
        if self.healthy_calls is not None and self.calls > self.healthy_calls:
            return logits * float("nan")
        return logits


def _data(channels: int = 1, n: int = 12) -> TensorDataset:
    generator = torch.Generator().manual_seed(0)
    return TensorDataset(torch.randn(n, channels, 16, 16, generator=generator), torch.arange(n) % 3)


def test_a_non_finite_loss_names_the_step_and_term_and_keeps_the_last_good_checkpoint(tmp_path):
    torch.manual_seed(0)
    # Epoch 1 (2 training steps, validation and the set-up checks) stays healthy.
    classifier = TinyClassifier(healthy_calls=6)
    with pytest.raises(FloatingPointError) as error:
        fit_explainer(
            classifier,
            _data(),
            tmp_path / "run",
            normalization=Normalization((0.5,), (0.25,)),
            epochs=3,
            batch_size=4,
            max_steps_per_epoch=2,
            progress=False,
        )
    message = str(error.value)
    assert re.search(r"epoch 2 train: the loss became nan at step \d \(of this epoch", message)
    assert "non-finite terms:" in message and "classification" in message
    assert "the last good checkpoint is" in message and "(after epoch 1)" in message
    state = load_checkpoint(tmp_path / "run" / "last.pt", kind="explainer")
    assert state["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in state["state_dict"].values())


def test_images_with_the_wrong_channel_count_are_refused_before_training(tmp_path):
    with pytest.raises(ValueError) as error:
        fit_explainer(
            TinyClassifier(),
            _data(channels=3),
            tmp_path / "run",
            epochs=1,
            batch_size=4,
            progress=False,
        )
    assert str(error.value).startswith(
        "the training data has 3-channel images but the classifier takes 1 channels"
    )
    assert not (tmp_path / "run" / "last.pt").exists()


def _gray_module(monkeypatch) -> str:
    """An importable ``module:callable`` building the 1-channel classifier."""
    module = types.ModuleType("gray_models")
    module.build = lambda: TinyClassifier()
    monkeypatch.setitem(sys.modules, "gray_models", module)
    return "gray_models:build"


def _rgb_folder(root, with_masks: bool = True):
    """Two class folders of RGB images (and their masks, class index per pixel)."""
    masks = root / "masks"
    for k, name in enumerate(("a", "b")):
        (root / "images" / name).mkdir(parents=True)
        (masks / name).mkdir(parents=True, exist_ok=True)
        for i in range(2):
            Image.fromarray(np.full((16, 16, 3), 60 * i + 30 * k, np.uint8)).save(
                root / "images" / name / f"{i}.png"
            )
            mask = np.zeros((16, 16), np.uint8)
            mask[4:10, 4:10] = k + 1
            Image.fromarray(mask).save(masks / name / f"{i}.png")
    return root / "images", masks


def test_evaluate_refuses_images_with_the_wrong_channel_count(tmp_path, monkeypatch):
    images, masks = _rgb_folder(tmp_path)
    own = OwnClassifier(_gray_module(monkeypatch), image_size=16)  # 3 channels by default
    with pytest.raises(ValueError) as error:
        run_evaluation(tmp_path / "report", own=own, data=images, masks=masks, methods=["gradcam"])
    assert str(error.value).startswith(
        f"the evaluation data ({images}) has 3-channel images but the classifier takes 1 channels"
    )
    assert not (tmp_path / "report").exists()


def test_explain_refuses_images_with_the_wrong_channel_count(tmp_path):
    images, _ = _rgb_folder(tmp_path)
    meta = {"classes": ["a", "b", "c"], "image_size": [16], "task": "single-label"}
    meta["normalization"] = {"mean": [0.5] * 3, "std": [0.25] * 3}
    with pytest.raises(ValueError) as error:
        explain_files(
            [images],
            TinyClassifier(),
            None,
            meta,
            "gradcam",
            None,
            tmp_path / "maps",
            recursive=True,
        )
    assert re.match(
        r"image '.*0\.png' has 3-channel images but the classifier takes 1 channels",
        str(error.value),
    )
    assert not list((tmp_path / "maps").glob("**/*.npy"))
