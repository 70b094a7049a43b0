"""Class-specific masks: the per-class metrics (known answers), the loss terms beyond the
paper and the Explainer head whose class maps can differ."""

import pytest
import torch

from captum_explainer import GradCAM
from captum_explainer.compare import MethodSpec, compare
from captum_explainer.data import SyntheticScenes, collate_items
from captum_explainer.explainer.loss import (
    LossWeights,
    absent_class_loss,
    explainer_loss,
    merged_masks,
    separation_classes,
    separation_loss,
)
from captum_explainer.metrics import class_mask_scores, per_class_mean, scale_class_maps
from captum_explainer.models import SmallCNN
from captum_explainer.models.explainer_nets import SmallExplainer


def _scene():
    """Two images of 8 x 8, three classes: image 0 holds class 0 (left) and class 2
    (right); image 1 holds class 1 only, with one void pixel."""
    seg = torch.zeros(2, 8, 8, dtype=torch.long)
    seg[0, 2:5, 0:3] = 1
    seg[0, 2:5, 5:8] = 3
    seg[1, 3:6, 3:6] = 2
    seg[1, 0, 0] = 255
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    return seg, labels


def _perfect(seg: torch.Tensor, k: int = 3) -> torch.Tensor:
    return torch.stack([(seg == c + 1).float() for c in range(k)], dim=1)


def test_perfect_class_maps_score_one_and_zero():
    seg, labels = _scene()
    pairs, images = class_mask_scores(_perfect(seg), seg, labels)
    assert torch.allclose(pairs["class_iou"], torch.ones(3))
    assert torch.allclose(pairs["class_f1"], torch.ones(3))
    # Image 1 has no object of another class: its pair's share is undefined.
    assert torch.allclose(pairs["own_object_share"][:2], torch.ones(2))
    assert torch.isnan(pairs["own_object_share"][2])
    assert torch.allclose(images["absent_class_mass"], torch.zeros(2))


def test_one_objectness_map_for_every_class_is_caught():
    seg, labels = _scene()
    foreground = ((seg > 0) & (seg != 255)).float()
    copies = foreground[:, None].expand(2, 3, 8, 8).clone()
    pairs, images = class_mask_scores(copies, seg, labels)
    # Image 0: each class's 9 pixels out of 18 object pixels.
    assert pairs["own_object_share"][:2].tolist() == pytest.approx([0.5, 0.5])
    assert pairs["class_iou"][:2].tolist() == pytest.approx([0.5, 0.5])
    assert pairs["class_f1"][:2].tolist() == pytest.approx([2 / 3, 2 / 3])
    # Absent classes get maps as large as the present ones'.
    assert images["absent_class_mass"].tolist() == pytest.approx([1.0, 1.0])


def test_half_strength_absent_maps_and_joint_scaling():
    seg, labels = _scene()
    maps = _perfect(seg)
    maps[0, 1] = 0.5 * ((seg[0] > 0).float())  # absent class 1 on both objects, half strength
    pairs, images = class_mask_scores(maps, seg, labels)
    # Present mean mass 9, absent mass 0.5 * 18 = 9: ratio 1.
    assert images["absent_class_mass"][0].item() == pytest.approx(1.0)
    # Joint scaling keeps a faint map faint; scaling each map alone would blow it up.
    raw = torch.zeros(1, 2, 4, 4)
    raw[0, 0, 0, 0], raw[0, 1, 1, 1] = 10.0, 1.0
    joint = scale_class_maps(raw)
    assert joint[0, 0].max() == 1.0 and joint[0, 1].max() == pytest.approx(0.1)


def test_class_mask_scores_check_their_inputs():
    seg, labels = _scene()
    with pytest.raises(ValueError, match="segmentation must be"):
        class_mask_scores(_perfect(seg), seg[:1], labels)
    with pytest.raises(ValueError, match="scale_class_maps"):
        class_mask_scores(2 * _perfect(seg), seg, labels)


def test_absent_class_loss_is_the_mean_over_absent_classes():
    masks = torch.zeros(2, 3, 2, 2)
    masks[0, 1] = 0.6  # absent class of image 0
    masks[1, 0], masks[1, 2] = 0.2, 0.4  # absent classes of image 1
    masks[1, 1] = 1.0  # present: not counted
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    assert absent_class_loss(masks, labels).item() == pytest.approx((0.6 + 0.3) / 2)
    # The paper's term sees only the largest absent class at each pixel.
    assert absent_class_loss(masks, torch.ones(2, 3)).item() == 0.0


def test_separation_loss_rewards_a_mask_showing_its_class_only():
    classes = torch.tensor([0, 2])
    alone = torch.tensor([[8.0, -8.0, -8.0], [-8.0, -8.0, 8.0]])
    both = torch.tensor([[8.0, -8.0, 8.0], [8.0, -8.0, 8.0]])  # the other present class too
    assert separation_loss(alone, classes) < 0.01 < separation_loss(both, classes)
    drawn = separation_classes(torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]).repeat(50, 1))
    assert set(drawn[0::2].tolist()) == {1} and set(drawn[1::2].tolist()) == {0, 2}


def test_new_terms_are_off_in_the_papers_loss_and_add_when_weighted():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    target, non_target = merged_masks(logits, labels)
    masked, inverted, separated = torch.randn(3, 2, 3).unbind(0)
    classes = torch.tensor([2, 1])
    paper = explainer_loss(logits, labels, masked, inverted, target, non_target, LossWeights())
    assert "absent" not in paper and "separation" not in paper
    weights = LossWeights(l_absent=2.0, l_sep=0.5)
    ours = explainer_loss(
        logits, labels, masked, inverted, target, non_target, weights, separated, classes
    )
    expected = paper["loss"] + 2.0 * ours["absent"] + 0.5 * ours["separation"]
    assert ours["loss"].item() == pytest.approx(expected.item())
    with pytest.raises(ValueError, match="l_sep > 0 needs"):
        explainer_loss(logits, labels, masked, inverted, target, non_target, weights)
    with pytest.raises(ValueError, match="l_absent"):
        LossWeights(l_absent=-1.0)


def test_class_head_lets_two_classes_draw_different_shapes():
    """The per-class head fits two different target shapes from one image (each class
    has its own full-resolution channels)."""
    torch.manual_seed(0)
    image = torch.randn(1, 3, 16, 16)
    target = torch.zeros(1, 2, 16, 16)
    target[0, 0, :, :8], target[0, 1, 4:12, 4:12] = 1, 1
    net = SmallExplainer(num_classes=2, width=8, full_res_channels=4, class_head_channels=4)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(150):
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(image), target)
        loss.backward()
        optimizer.step()
    masks = torch.sigmoid(net.eval()(image))
    assert ((masks > 0.5) == target.bool()).float().mean() > 0.95


@pytest.mark.parametrize("channels, size", [(1, (28, 28)), (3, (29, 35)), (3, (7, 5))])
def test_small_explainer_takes_any_channels_and_size(channels, size):
    net = SmallExplainer(num_classes=4, width=8, in_channels=channels).eval()
    out = net(torch.randn(2, channels, *size))
    assert out.shape == (2, 4, *size)
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        SmallExplainer(num_classes=4, in_channels=1)(torch.randn(1, 3, 8, 8))
    with pytest.raises(ValueError, match="class_head_channels must be"):
        SmallExplainer(class_head_channels=-1)


def test_undefined_pair_scores_are_left_out_of_the_class_means():
    values = torch.tensor([0.5, float("nan"), 1.0, float("nan")])
    means = per_class_mean(values, torch.tensor([0, 0, 1, 2]), 4)
    assert means[:2].tolist() == [0.5, 1.0] and torch.isnan(means[2:]).all()


def test_compare_scores_every_class_unless_a_method_opts_out():
    model = SmallCNN().eval()
    data = SyntheticScenes(3, seed=5, split="test")
    images, labels, segmentation = collate_items([data[i] for i in range(3)])
    specs = [
        MethodSpec("in", GradCAM(model)),
        MethodSpec("out", GradCAM(model), per_class=False),
    ]
    result = compare(specs, images, labels, segmentation)
    assert {"class_iou", "own_object_share", "absent_class_mass"} <= set(result["in"].metrics)
    assert result["in"].class_maps.shape == (3, 8, 64, 64)
    assert "class_iou" not in result["out"].metrics
    # One table for both: NaN where a method skipped the per-class scores.
    table = result.to_markdown()
    assert "class_iou" in table.splitlines()[0] and "| out |" in table and "nan" in table
    assert (
        "class_iou"
        not in compare(specs[:1], images, labels, segmentation, per_class=False)["in"].metrics
    )
