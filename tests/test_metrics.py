import math

import pytest
import torch
from torch import nn

from captum_explainer import GradCAM
from captum_explainer.compare import MethodSpec, compare
from captum_explainer.data import SYNTHETIC_NORMALIZATION, SyntheticScenes, collate_items
from captum_explainer.data.voc import VOC2007
from captum_explainer.evaluation import evaluate
from captum_explainer.metrics.faithfulness import (
    class_specificity,
    deletion_insertion,
    gaussian_blur,
    random_maps,
    saliency_metric,
    undesirable_recovery,
)
from captum_explainer.metrics.localization import (
    default_tolerance,
    energy_pointing_game,
    mask_scores,
    merge_class_maps,
    pointing_game,
    roc_auc,
    scale_maps,
)
from captum_explainer.models import synthetic_classifier


def _segmentation():
    seg = torch.zeros(2, 10, 10, dtype=torch.long)
    seg[0, 2:5, 2:5] = 1  # class 0, 9 pixels
    seg[1, 5:9, 1:6] = 3  # class 2, 20 pixels
    seg[1, 0, :] = 255  # void row, left out
    return seg


def test_ground_truth_as_map_scores_perfectly():
    seg = _segmentation()
    gt = ((seg > 0) & (seg < 255)).float()[:, None]
    scores = mask_scores(gt, seg)
    for name in (
        "mean_f1",
        "continuous_f1",
        "discrete_iou",
        "continuous_iou",
        "auc",
        "object_coverage",
    ):
        assert torch.allclose(scores[name], torch.ones(2)), name
    assert torch.allclose(scores["background_coverage"], torch.zeros(2))


def test_constant_maps_by_hand():
    seg = _segmentation()
    area = torch.tensor([9 / 100, 20 / 90])
    ones = mask_scores(torch.ones(2, 1, 10, 10), seg)
    assert torch.allclose(ones["continuous_iou"], area)
    assert torch.allclose(ones["background_coverage"], torch.ones(2))
    half = mask_scores(torch.full((2, 1, 10, 10), 0.5), seg)
    # sum min(0.5, s) = 0.5 A ; sum max(0.5, s) = A + 0.5 (P - A)
    a, p = torch.tensor([9.0, 20.0]), torch.tensor([100.0, 90.0])
    assert torch.allclose(half["continuous_iou"], 0.5 * a / (a + 0.5 * (p - a)))
    assert torch.allclose(half["auc"], torch.full((2,), 0.5))  # all ties
    zeros = mask_scores(torch.zeros(2, 1, 10, 10), seg)
    assert torch.all(zeros["continuous_iou"] == 0) and torch.all(zeros["mean_f1"] == 0)
    assert torch.allclose(zeros["object_coverage"], torch.zeros(2))


def test_auc_counts_ties_as_half_and_skips_constant_truth():
    values = torch.tensor([[0.9, 0.5, 0.5, 0.1]])
    positive = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    # Pairs (pos, neg): (0.9>0.5), (0.9>0.1), (0.5=0.5 -> 1/2), (0.5>0.1): 3.5 / 4.
    assert roc_auc(values, positive, torch.ones_like(values)).item() == pytest.approx(0.875)
    assert math.isnan(roc_auc(values, torch.ones_like(values), torch.ones_like(values)).item())


def test_mask_scores_reject_unscaled_maps():
    with pytest.raises(ValueError, match="scale_maps"):
        mask_scores(torch.full((2, 1, 10, 10), 3.0), _segmentation())


def test_scale_and_merge():
    maps = torch.tensor([[-1.0, 2.0], [4.0, 1.0]]).view(1, 1, 2, 2)
    assert torch.allclose(
        scale_maps(maps, "max"), torch.tensor([[0.0, 0.5], [1.0, 0.25]]).view(1, 1, 2, 2)
    )
    # The default: min-max, so an offset map (RISE's) spans [0, 1] like any other.
    assert torch.allclose(scale_maps(maps), torch.tensor([[0.0, 0.6], [1.0, 0.4]]).view(1, 1, 2, 2))
    offset = torch.tensor([[0.66, 0.70], [0.66, 1.0]]).view(1, 1, 2, 2)
    assert torch.allclose(scale_maps(offset), scale_maps(offset - 0.66))
    assert torch.allclose(scale_maps(offset), (offset - 0.66) / 0.34)
    assert scale_maps(offset, "max").min() > 0.6  # the old rule left it flat
    for rule in ("minmax", "max"):
        assert torch.equal(scale_maps(torch.zeros(1, 1, 2, 2), rule), torch.zeros(1, 1, 2, 2))
    assert torch.equal(scale_maps(torch.full((1, 1, 2, 2), 0.3)), torch.zeros(1, 1, 2, 2))
    # Masks keep their values (clamped to [0, 1]).
    assert torch.equal(scale_maps(offset * 1.5, "none"), (offset * 1.5).clamp(0, 1))
    with pytest.raises(ValueError, match="rule must be one of"):
        scale_maps(maps, "sigmoid")
    class_maps = torch.stack([torch.zeros(2, 2), torch.ones(2, 2), 2 * torch.ones(2, 2)])[None]
    merged = merge_class_maps(class_maps, torch.tensor([[1, 1, 0]]))
    assert torch.equal(merged, torch.ones(1, 1, 2, 2))


def test_pointing_game_hits_misses_and_tolerance():
    seg = _segmentation()
    maps = torch.zeros(3, 1, 10, 10)
    maps[0, 0, 3, 3] = 1  # inside class 0's square: hit
    maps[1, 0, 0, 9] = 1  # far from class 2's block: miss
    maps[2, 0, 4, 3] = 1  # one pixel above class 2's block (rows 5-8): hit only with tolerance
    pair_seg = seg[[0, 1, 1]]
    classes = torch.tensor([0, 2, 2])
    exact = pointing_game(maps, pair_seg, classes, 3, tolerance=0, protocol="inclusive")
    assert exact["hits"].tolist() == [True, False, False]
    # TorchRay's protocol: distance strictly below the tolerance; one pixel away is a miss
    # at tolerance 1, a hit under the inclusive rule.
    torchray = pointing_game(maps, pair_seg, classes, num_classes=3, tolerance=1)
    assert torchray["hits"].tolist() == [True, False, False]
    assert pointing_game(maps, pair_seg, classes, 3, tolerance=1.01)["hits"][2]
    loose = pointing_game(maps, pair_seg, classes, 3, tolerance=1, protocol="inclusive")
    assert loose["hits"].tolist() == [True, False, True]
    assert (
        loose["per_class"][0] == 1
        and loose["per_class"][2] == 0.5
        and math.isnan(loose["per_class"][1])
    )
    assert loose["mean"] == pytest.approx(0.75)
    assert default_tolerance(224) == 15 and default_tolerance(64) == pytest.approx(15 * 64 / 224)
    with pytest.raises(ValueError, match="protocol must be one of"):
        pointing_game(maps, pair_seg, classes, 3, protocol="loose")


def test_pointing_game_tolerance_in_original_pixels_and_box_truth():
    maps = torch.zeros(2, 1, 10, 10)
    maps[:, 0, 0, 0] = 1  # the peak at the top-left corner
    boxes = torch.zeros(2, 10, 10, dtype=torch.bool)
    boxes[:, 0, 3:] = True  # the class's box starts 3 map pixels to the right
    classes = torch.tensor([0, 0])
    # The maps were resized from originals of width 50 and 20: 3 map pixels are 15 and 6
    # original pixels; TorchRay's 15-pixel tolerance (distance < 15) hits only the second.
    sizes = torch.tensor([[10, 50], [10, 20]])
    result = pointing_game(maps, boxes, classes, 1, original_sizes=sizes)
    assert result["hits"].tolist() == [False, True]
    inclusive = pointing_game(maps, boxes, classes, 1, original_sizes=sizes, protocol="inclusive")
    assert inclusive["hits"].tolist() == [True, True]


def test_centre_baseline_and_energy_pointing_game():
    seg = torch.zeros(1, 9, 9, dtype=torch.long)
    seg[0, 3:6, 3:6] = 1
    centre = torch.zeros(1, 1, 9, 9)
    centre[0, 0, 4, 4] = 1
    assert pointing_game(centre, seg, torch.tensor([0]), 1, tolerance=0.5)["mean"] == 1
    gt_map = (seg == 1).float()[:, None]
    assert energy_pointing_game(gt_map, seg, torch.tensor([0]), 1)["mean"] == pytest.approx(1.0)
    assert energy_pointing_game(torch.ones(1, 1, 9, 9), seg, torch.tensor([0]), 1)[
        "mean"
    ] == pytest.approx(9 / 81)


class Linear(nn.Module):
    """Class 0's logit is sum(w * x): linear in the pixels, so deletion's curve is known."""

    def __init__(self, weight):
        super().__init__()
        self.weight = weight

    def forward(self, x):
        return torch.stack([(self.weight * x).flatten(1).sum(1), torch.zeros(x.shape[0])], dim=1)


def test_deletion_curve_of_a_linear_model_is_known():
    torch.manual_seed(0)
    weight = torch.rand(1, 1, 4, 4)
    images = torch.rand(2, 1, 4, 4)
    contributions = (weight * images).flatten(1)
    curves = deletion_insertion(
        Linear(weight),
        images,
        (weight * images),
        torch.zeros(2, dtype=torch.long),
        n_steps=16,
        score="logit",
    )
    # Step s removed the s largest contributions: the score is what remains.
    remaining = contributions.sum(1, keepdim=True) - contributions.sort(
        1, descending=True
    ).values.cumsum(1)
    expected = torch.cat([contributions.sum(1, keepdim=True), remaining], dim=1)
    assert torch.allclose(curves.deletion, expected, atol=1e-5)
    assert torch.allclose(curves.x[0], torch.linspace(0, 1, 17))
    assert torch.allclose(curves.deletion_auc, torch.trapezoid(expected, curves.x, dim=1))
    # Insertion ends on the full image and starts on the canvas (default: a blur, sigma 1/16
    # of the side; here 0.25 px on a 4 px image, kernel 3).
    assert torch.allclose(curves.insertion[:, -1], contributions.sum(1))
    blurred = gaussian_blur(images, kernel_size=3, sigma=0.25)
    assert torch.allclose(curves.insertion[:, 0], (weight * blurred).flatten(1).sum(1), atol=1e-5)
    assert torch.equal(curves.canvas_score, curves.insertion[:, 0])
    assert torch.equal(curves.image_score, curves.deletion[:, 0])


def test_saliency_metric_by_hand():
    model = lambda x: torch.zeros(x.shape[0], 4)  # noqa: E731 - uniform softmax: p = 1/4 per class
    images = torch.rand(2, 3, 8, 8)
    masks = torch.stack([torch.full((1, 8, 8), 0.5), torch.zeros(1, 8, 8)])
    labels = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0]])
    values = saliency_metric(model, images, masks, labels)
    assert values[0].item() == pytest.approx(math.log(0.5) - math.log(0.25))
    assert values[1].item() == pytest.approx(math.log(0.05) - math.log(0.5))  # area clamped at 0.05


class RegionClassifier(nn.Module):
    """Class k's logit is 10 x the brightness of the k-th quarter of the image."""

    def forward(self, x):
        quarters = [x[:, :, :4, :4], x[:, :, :4, 4:], x[:, :, 4:, :4], x[:, :, 4:, 4:]]
        return 10 * torch.stack([q.mean(dim=(1, 2, 3)) for q in quarters], dim=1)


def test_class_specificity_of_perfectly_specific_maps():
    images = torch.ones(4, 1, 8, 8)
    labels = torch.eye(4)
    maps = torch.zeros(4, 4, 8, 8)
    for k, (r, c) in enumerate([(0, 0), (0, 4), (4, 0), (4, 4)]):
        maps[:, k, r : r + 4, c : c + 4] = 1
    result = class_specificity(RegionClassifier(), images, maps, labels)
    assert result.matrix.shape == (4, 4)
    assert result.diagonal > 0.99 and result.off_diagonal < 0.01
    assert torch.allclose(result.blank, torch.full((4,), 0.25))


def test_undesirable_recovery_and_random_reference():
    weight = torch.ones(1, 1, 4, 4)
    weight[..., :2, :] = -2  # the top half hinders class 0: its logit is -8 < 0
    images = torch.ones(4, 1, 4, 4)
    images[3, :, :2] = 0  # ... except on the last image, where class 0 is already top-1
    undesirable = (weight < 0).float().expand(4, 1, 4, 4)
    result = undesirable_recovery(
        Linear(weight),
        images,
        undesirable,
        torch.zeros(4, dtype=torch.long),
        fractions=(0.5,),
        score="logit",
    )
    # Only the three images to recover count; removing 8 pixels of weight -2 adds 16.
    assert result[0.5] == {"score_rise": pytest.approx(16.0), "became_top1": 1.0, "images": 3}
    noise = random_maps(undesirable, seed=1)
    assert noise.shape == undesirable.shape and not torch.equal(
        noise, random_maps(undesirable, seed=2)
    )


def test_evaluate_points_at_voc_boxes_with_original_pixels(voc_root, tiny_scenes):
    model = synthetic_classifier()
    voc = VOC2007(
        voc_root,
        image_set="test",
        image_size=64,
        normalization=SYNTHETIC_NORMALIZATION,
        classes=tiny_scenes.classes,
    )
    spec = MethodSpec("Grad-CAM", GradCAM(model))
    result = evaluate([spec], model, voc, range(6), batch_size=6, progress=False)
    images, labels, seg = collate_items([voc[i] for i in range(6)])
    boxes = torch.stack([voc.pointing_truth(i) for i in range(6)])
    sizes = torch.stack([voc.original_size(i) for i in range(6)])
    by_boxes = compare([spec], images, labels, seg, pointing_truth=boxes, original_sizes=sizes)
    by_segmentation = compare([spec], images, labels, seg)
    row = result.rows()[0]
    assert row["pointing_game"] == by_boxes["Grad-CAM"].metrics["pointing_game"]
    # The boxes hold the segmentation, and 15 original pixels (48 px images) exceed 15 at 224
    # scaled to 64: pointing at boxes can only hit more often.
    hits_boxes = by_boxes["Grad-CAM"].per_pair["pointing_game"]
    hits_segmentation = by_segmentation["Grad-CAM"].per_pair["pointing_game"]
    assert (hits_boxes >= hits_segmentation).all()


def test_the_insertion_canvas_removes_the_evidence_and_is_checked():
    model = synthetic_classifier()
    data = SyntheticScenes(24, split="test", seed=515)
    images, labels, _ = collate_items([data[i] for i in range(len(data))])
    pairs, classes = labels.nonzero(as_tuple=True)
    maps = torch.rand(len(pairs), 1, 64, 64, generator=torch.Generator().manual_seed(0))
    for canvas in ("blur", "mean"):
        curves = deletion_insertion(
            model, images[pairs], maps, classes, n_steps=2, score="sigmoid", canvas=canvas
        )
        assert curves.image_score.mean() > 0.9
        # Near the blank image's level: the canvas holds none of the class's evidence.
        assert curves.canvas_score.mean() < curves.blank_score.mean() + 0.02, canvas
        assert curves.evidence_warnings() == []
    # The RISE paper's blur scaled to 64 px keeps the shapes, and the check says so.
    weak = deletion_insertion(
        model, images[pairs], maps, classes, n_steps=2, score="sigmoid", canvas="rise-blur"
    )
    assert weak.canvas_score.mean() > 0.5
    assert any("insertion canvas keeps the class" in w for w in weak.evidence_warnings())
    with pytest.raises(ValueError, match="canvas must be one of"):
        deletion_insertion(model, images[:1], maps[:1], classes[:1], canvas="noise")
