import math

import pytest
import torch

from captum_explainer.explainer.loss import (
    PRESETS,
    LossWeights,
    area_loss,
    check_labels,
    classification_loss,
    entropy_loss,
    explainer_loss,
    merged_masks,
    total_variation,
)


def test_merged_masks_take_the_max_over_present_and_absent_classes():
    logits = torch.tensor([2.0, -1.0, 0.5]).view(1, 3, 1, 1).expand(2, 3, 2, 2).clone()
    labels = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    target, non_target = merged_masks(logits, labels)
    assert target.shape == non_target.shape == (2, 1, 2, 2)
    assert torch.allclose(target, torch.sigmoid(torch.tensor(2.0)).expand(2, 1, 2, 2))
    assert torch.allclose(non_target[0], torch.sigmoid(torch.tensor(-1.0)).expand(1, 2, 2))
    assert torch.all(non_target[1] == 0)  # every class present: no non-target mask


def test_total_variation_by_hand():
    # Reflect padding repeats the second-to-last row and column: 4 unit jumps over 4 pixels.
    z = torch.tensor([[0.0, 1.0], [0.0, 0.0]]).view(1, 1, 2, 2)
    assert total_variation(z).item() == pytest.approx(1.0)
    assert total_variation(torch.ones(2, 1, 5, 7)).item() == 0.0


def test_entropy_loss_by_hand():
    uniform = torch.zeros(3, 4)
    assert entropy_loss(uniform).item() == pytest.approx(-math.log(4) / 4)
    certain = torch.tensor([[100.0, 0.0, 0.0, 0.0]])
    assert entropy_loss(certain).item() == pytest.approx(0.0, abs=1e-6)


def test_area_loss_by_hand():
    values = torch.tensor([0.9, 0.8, 0.5, 0.4, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0])
    masks = torch.stack([values, values.flip(0)]).view(
        1, 2, 2, 5
    )  # class 1's order does not matter
    labels = torch.tensor([[1.0, 0.0]])
    # a_min = 0.1: the top pixel should be 1 (0.1 short); a_max = 0.3: beyond the top 3
    # pixels everything should be 0 (0.4 + 0.1 too much); both divided by P = 10.
    assert area_loss(masks, labels, a_min=0.1, a_max=0.3).item() == pytest.approx(0.06)
    both = torch.tensor([[1.0, 1.0]])
    assert area_loss(masks, both, 0.1, 0.3).item() == pytest.approx(0.12)


def test_classification_loss_is_bce_on_the_masked_images():
    logits, labels = torch.tensor([[3.0, -2.0]]), torch.tensor([[1.0, 0.0]])
    expected = (
        -(
            math.log(torch.sigmoid(torch.tensor(3.0)))
            + math.log(1 - torch.sigmoid(torch.tensor(-2.0)))
        )
        / 2
    )
    assert classification_loss(logits, labels).item() == pytest.approx(expected, rel=1e-5)


def test_total_loss_is_the_weighted_sum_of_its_terms():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 8, 8)
    labels = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    target, non_target = merged_masks(logits, labels)
    weights = LossWeights(l_e=2.0, l_tv=0.5, l_ac=0.7, l_m=0.1, l_n=0.3)
    terms = explainer_loss(
        logits, labels, torch.randn(2, 3), torch.randn(2, 3), target, non_target, weights
    )
    expected = (
        terms["classification"]
        + 2.0 * terms["entropy"]
        + 0.5 * terms["tv"]
        + 0.7 * terms["area"]
        + 0.1 * terms["mask_mean"]
        + 0.3 * terms["non_target_mean"]
    )
    assert terms["loss"].item() == pytest.approx(expected.item())
    assert terms["tv"].item() == pytest.approx(
        (total_variation(target) + total_variation(non_target)).item()
    )


def test_all_zero_labels_are_refused():
    with pytest.raises(ValueError, match="labels are all zero for 1 image"):
        check_labels(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))


def test_the_papers_presets():
    assert set(PRESETS) == {"vgg16-voc", "resnet50-voc", "vgg16-coco", "resnet50-coco"}
    lr, weights = PRESETS["resnet50-voc"]
    assert lr == 1e-4 and (weights.l_e, weights.l_tv, weights.l_ac, weights.l_m, weights.l_n) == (
        3.0,
        1.0,
        0.8,
        0.01,
        0.3,
    )
    lr, weights = PRESETS["resnet50-coco"]
    assert lr == 1e-5 and (weights.l_e, weights.l_tv, weights.l_ac, weights.l_m, weights.l_n) == (
        3.0,
        0.05,
        0.1,
        0.01,
        0.03,
    )
    assert LossWeights() == PRESETS["vgg16-voc"][1]
