"""The mask-only check on known answers: a mask whose shape encodes its class is caught; a
mask whose shape is independent of its class stays near chance."""

from __future__ import annotations

import pytest
import torch

from captum_explainer.metrics import blur_to_match, gaussian_blur, mask_only_check, roughness

SHAPES = ((6, 6), (2, 12), (12, 2))  # class 0 a square, 1 a flat bar, 2 a tall bar


def _masks(classes: torch.Tensor, by_class: bool, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    masks = torch.zeros(len(classes), 1, 24, 24)
    for i, k in enumerate(classes.tolist()):
        shape = SHAPES[k] if by_class else SHAPES[int(torch.randint(3, (), generator=generator))]
        top = int(torch.randint(0, 24 - shape[0] + 1, (), generator=generator))
        left = int(torch.randint(0, 24 - shape[1] + 1, (), generator=generator))
        masks[i, 0, top : top + shape[0], left : left + shape[1]] = 1.0
    return masks


def test_a_shape_that_encodes_the_class_is_caught():
    classes = torch.arange(240) % 3
    result = mask_only_check(_masks(classes, by_class=True), classes, 3, steps=200)
    assert result.accuracy > 0.9 and result.excess > 0.85, result


def test_a_shape_independent_of_the_class_stays_near_chance():
    classes = torch.arange(240) % 3
    result = mask_only_check(_masks(classes, by_class=False), classes, 3, steps=200)
    assert result.accuracy < result.chance + 0.2, result


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"masks must be \(M, 1, H, W\) and classes \(M,\)"):
        mask_only_check(torch.zeros(4, 8, 8), torch.zeros(4), 2)
    with pytest.raises(ValueError, match="at least 3 masks"):
        mask_only_check(torch.zeros(2, 1, 8, 8), torch.zeros(2), 2)


def test_blur_matching_reaches_the_references_smoothness_and_keeps_each_range():
    sharp = torch.zeros(3, 1, 32, 32)
    sharp[..., 10:22, 6:26] = 0.9
    reference = gaussian_blur(sharp, kernel_size=19, sigma=3.0)
    blurred, sigma = blur_to_match(sharp, reference)
    assert 1.5 < sigma < 6  # a blur like the reference's own, found back
    assert abs(float(roughness(blurred).mean() - roughness(reference).mean())) < 1e-3
    assert torch.allclose(blurred.amax((1, 2, 3)), torch.full((3,), 0.9), atol=1e-5)
    assert torch.allclose(blurred.amin((1, 2, 3)), torch.zeros(3), atol=1e-5)
    # Maps already as smooth as the reference come back as they are.
    same, none = blur_to_match(reference, sharp)
    assert none == 0.0 and torch.equal(same, reference)
