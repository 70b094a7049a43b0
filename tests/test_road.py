"""ROAD (remove and debias): the noisy linear imputation on known answers and against
pytorch-grad-cam's sparse solver, and the MoRF/LeRF curves on a model whose evidence is known."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from captum_explainer import GradCAM, SyntheticScenes
from captum_explainer.evaluation import MethodSpec, evaluate
from captum_explainer.metrics import noisy_linear_imputation, random_maps, road
from captum_explainer.models import synthetic_classifier


def _ramp(size: int = 16) -> torch.Tensor:
    rows, cols = torch.meshgrid(torch.arange(size * 1.0), torch.arange(size * 1.0), indexing="ij")
    return torch.stack([rows + 2 * cols, 3 * rows - cols])[None]  # two linear channels


def test_a_linear_image_is_imputed_exactly_and_known_pixels_stay():
    images = _ramp()
    removed = torch.zeros(1, 1, 16, 16, dtype=torch.bool)
    removed[..., 3:12, 4:14] = True  # an interior hole
    filled = noisy_linear_imputation(images, removed, noise=0.0)
    assert (filled - images).abs().max() < 1e-3
    noisy = noisy_linear_imputation(
        images, removed, noise=0.5, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(noisy[..., ~removed[0, 0]], images[..., ~removed[0, 0]])
    assert 0.4 < (noisy - images)[..., removed[0, 0]].std() < 0.6


def test_every_removed_pixel_is_the_weighted_mean_of_its_neighbours():
    torch.manual_seed(0)
    images = torch.rand(2, 3, 12, 12)
    removed = torch.rand(2, 1, 12, 12) < 0.6
    filled = noisy_linear_imputation(images, removed, noise=0.0, tolerance=1e-7)
    kernel = torch.tensor([[1, 2, 1], [2, 0, 2], [1, 2, 1]], dtype=torch.float32) / 12
    flat = filled.reshape(6, 1, 12, 12)
    neighbours = nn.functional.conv2d(flat, kernel[None, None], padding=1)
    degree = nn.functional.conv2d(torch.ones(1, 1, 12, 12), kernel[None, None], padding=1)
    mask = removed.expand(2, 3, 12, 12).reshape(6, 1, 12, 12)
    assert ((degree * flat - neighbours)[mask]).abs().max() < 1e-4


def test_batched_equals_one_image_at_a_time():
    torch.manual_seed(1)
    images, removed = torch.rand(3, 3, 16, 16), torch.rand(3, 1, 16, 16) < 0.5
    together = noisy_linear_imputation(images, removed, noise=0.0)
    alone = torch.cat(
        [noisy_linear_imputation(images[i : i + 1], removed[i : i + 1], 0.0) for i in range(3)]
    )
    assert (together - alone).abs().max() < 1e-4


@pytest.mark.filterwarnings("ignore:__array_wrap__ must accept context:DeprecationWarning")
def test_the_same_imputation_as_pytorch_grad_cam():
    road_module = pytest.importorskip(
        "pytorch_grad_cam.metrics.road", reason="the bench extra (grad-cam)"
    )
    torch.manual_seed(2)
    image, relevance = torch.rand(3, 48, 48), torch.rand(48, 48)
    keep = (relevance < torch.quantile(relevance, 0.3)).float()  # theirs: 1 keeps a pixel
    theirs = road_module.NoisyLinearImputer(noise=0.0)(image, keep)
    ours = noisy_linear_imputation(image[None], (keep == 0)[None, None], noise=0.0)[0]
    assert (theirs - ours).abs().max() < 1e-3


class _LeftHalf(nn.Module):
    """Class 0's logit is the left half's mean brightness, class 1's the right half's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = x.shape[-1] // 2
        return torch.stack([x[..., :half].mean((1, 2, 3)), x[..., half:].mean((1, 2, 3))], 1) * 10


def test_morf_falls_and_lerf_holds_for_the_map_on_the_evidence():
    images = torch.zeros(4, 3, 16, 16)
    images[..., 6:10, 2:6] = 1.0  # a bright patch on the left: class 0's evidence
    on_patch = torch.zeros(4, 1, 16, 16)
    on_patch[..., 6:10, 2:6] = 1.0
    targets = torch.zeros(4, dtype=torch.long)
    good = road(
        _LeftHalf(),
        images,
        on_patch + 0.01 * random_maps(on_patch),
        targets,
        score="logit",
        noise=0.0,
    )
    noise = road(
        _LeftHalf(), images, random_maps(on_patch, seed=3), targets, score="logit", noise=0.0
    )
    assert good.morf.shape == (4, 9) and torch.allclose(
        good.image_score, torch.full((4,), 10 * 16 / 128)
    )
    assert good.morf_mean.mean() < noise.morf_mean.mean()
    assert good.lerf_mean.mean() > noise.lerf_mean.mean()
    assert good.combined.mean() > noise.combined.mean()


def test_bad_arguments_are_named():
    images = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match=r"removed must be \(N, 1, H, W\)"):
        noisy_linear_imputation(images, torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="fractions must lie strictly between 0 and 1"):
        road(
            _LeftHalf(),
            images,
            torch.rand(1, 1, 8, 8),
            torch.zeros(1, dtype=torch.long),
            fractions=(0.0,),
        )


@pytest.mark.filterwarnings("ignore:the insertion canvas keeps the class")  # 32 px images
def test_evaluate_reports_road_beside_deletion_when_asked():
    model = synthetic_classifier()
    scenes = SyntheticScenes(2, image_size=32, seed=4, split="test")
    methods = [MethodSpec("Grad-CAM", GradCAM(model))]
    plain = evaluate(methods, model, scenes, range(2), progress=False, deletion_steps=4).rows()[0]
    with_road = evaluate(
        methods, model, scenes, range(2), progress=False, deletion_steps=4, road=True
    ).rows()[0]
    assert "road_combined" not in plain
    assert {"road_morf", "road_lerf", "road_combined"} <= set(with_road)
    assert with_road["road_combined"] == pytest.approx(
        (with_road["road_lerf"] - with_road["road_morf"]) / 2, abs=1e-6
    )
