"""Faults a user meets while training an Explainer: a classifier that starts returning NaN,
and images with another channel count than the classifier takes."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from captum_explainer import fit_explainer
from captum_explainer.checkpoint import load_checkpoint
from captum_explainer.data import Normalization


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
