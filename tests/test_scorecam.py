"""Score-CAM: a known answer, its every-class maps, batch independence, a transformer's tokens,
a model with non-finite scores, and pytorch-grad-cam's ScoreCAM on the same model and layer.
(Every target form, NoiseTunnel, hooks and bad inputs: tests/test_conformance.py.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from captum_explainer import ScoreCAM


class HalvesModel(nn.Module):
    """Two feature channels, the image's left and right halves; class 0 reads the left half,
    class 1 the right one."""

    def __init__(self, side: int = 8) -> None:
        super().__init__()
        left = torch.zeros(side, side)
        left[:, : side // 2] = 1
        self.register_buffer("halves", torch.stack([left, 1 - left]))
        self.features = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x[:, :1] * self.halves)  # (N, 2, H, W)
        return 0.5 * features.flatten(2).sum(2)


def test_known_answer_each_class_gets_its_own_half():
    model = HalvesModel()
    x = torch.ones(2, 1, 8, 8)
    maps = ScoreCAM(model, model.features, score="logit").attribute(x, target=[0, 1])
    # The left channel keeps class 0 (logit 16 against 0): its weight is ~1.
    assert torch.allclose(maps[0, 0], model.halves[0], atol=1e-4)
    assert torch.allclose(maps[1, 0], model.halves[1], atol=1e-4)


def _small_cnn(dtype=torch.float32):
    torch.manual_seed(0)
    return (
        nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 24, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(24, 5),
        )
        .eval()
        .to(dtype)
    )


def test_every_class_from_the_same_passes_equals_each_target():
    model = _small_cnn()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    cam = ScoreCAM(model, model[4], score="sigmoid")
    every = cam.attribute_all_classes(x, perturbations_per_eval=100)
    assert every.shape == (2, 5, 32, 32)
    for k in range(5):
        single = cam.attribute(x, target=k, perturbations_per_eval=100)
        assert torch.allclose(every[:, k : k + 1], single, atol=1e-6)


def test_batched_equals_per_example_up_to_rounding():
    model = _small_cnn(torch.float64)
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1)).double()
    cam = ScoreCAM(model, model[4], score="sigmoid")
    batched = cam.attribute(x, target=[0, 3, 4])
    single = torch.cat([cam.attribute(x[i : i + 1], target=t) for i, t in enumerate([0, 3, 4])])
    # float32 spreads ~1e-3 of the range (its catalogue tolerance); nothing couples the batch.
    assert (batched - single).abs().max() < 1e-12


def test_vision_transformer_tokens_on_their_grid():
    torch.manual_seed(0)
    vit = torchvision.models.VisionTransformer(
        image_size=32,
        patch_size=8,
        num_layers=1,
        num_heads=2,
        hidden_dim=16,
        mlp_dim=32,
        num_classes=3,
    ).eval()
    maps = ScoreCAM(vit).attribute(torch.randn(2, 3, 32, 32), target=1)
    assert maps.shape == (2, 1, 32, 32) and torch.isfinite(maps).all() and (maps >= 0).all()


def test_non_finite_scores_are_named():
    class NaNModel(HalvesModel):
        def forward(self, x):
            return super().forward(x) * float("nan")

    model = NaNModel()
    with pytest.raises(ValueError, match="non-finite .NaN or infinite. scores"):
        ScoreCAM(model, model.features).attribute(torch.ones(1, 1, 8, 8), target=0)


def test_bad_settings_are_named():
    model = HalvesModel()
    with pytest.raises(ValueError, match="perturbations_per_eval must be an integer >= 1, got 0"):
        ScoreCAM(model, model.features).attribute(
            torch.ones(1, 1, 8, 8), target=0, perturbations_per_eval=0
        )
    with pytest.raises(ValueError, match="score must be one of"):
        ScoreCAM(model, model.features, score="probability")


def test_matches_pytorch_grad_cam():
    peer = pytest.importorskip("pytorch_grad_cam", reason="the bench extra (grad-cam)")
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=5).eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    ours = ScoreCAM(model, model.layer4, score="logit").attribute(x, target=[1, 3])[:, 0]
    with peer.ScoreCAM(model=model, target_layers=[model.layer4]) as cam:
        cam.batch_size = 128
        theirs = cam(input_tensor=x, targets=[ClassifierOutputTarget(1), ClassifierOutputTarget(3)])
    # pytorch-grad-cam scales each map to [0, 1] and resizes with OpenCV (and upsamples the
    # masks with align_corners=True): compare on its scale.
    low = ours.flatten(1).amin(1)[:, None, None]
    high = ours.flatten(1).amax(1)[:, None, None]
    scaled = ((ours - low) / (high - low)).numpy()
    for mine, peer_map in zip(scaled, theirs):
        assert np.corrcoef(mine.ravel(), peer_map.ravel())[0, 1] > 0.99
        assert np.abs(mine - peer_map).max() < 0.06
