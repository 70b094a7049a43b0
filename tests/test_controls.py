"""The mask-only check on known answers: a mask whose shape encodes its class is caught; a
mask whose shape is independent of its class stays near chance."""

from __future__ import annotations

import math

import pytest
import torch

from captum_explainer import GradCAM, SyntheticScenes
from captum_explainer.data import collate_items
from captum_explainer.evaluation import MethodSpec, compare, evaluate, score_faithfulness
from captum_explainer.metrics import blur_to_match, gaussian_blur, mask_only_check, roughness
from captum_explainer.models import synthetic_classifier

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


# --- The controls in the evaluation: known answers through evaluate() ---


class _ClassBands:
    """A "method" whose map is a horizontal band at a height set by the class alone: its
    masks' shapes give the class away, whatever the image."""

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        maps = torch.zeros(inputs.shape[0], 1, *inputs.shape[-2:])
        for row, k in enumerate(target.tolist()):  # one band per map, 8 rows at 8 k
            maps[row, 0, 8 * k : 8 * k + 8] = 1.0
        return maps


class _OneDisk:
    """A "method" whose map is the same disk for every image and class: nothing to read."""

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        side = inputs.shape[-1]
        ys, xs = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
        disk = ((ys - side / 2) ** 2 + (xs - side / 2) ** 2 < (side / 4) ** 2).float()
        return disk.expand(inputs.shape[0], 1, side, side).clone()


@pytest.fixture(scope="module")
def controlled_run():
    model = synthetic_classifier()
    gradcam = GradCAM(model)
    methods = [
        MethodSpec("Grad-CAM", gradcam),
        MethodSpec("bands", _ClassBands(), scale="none", per_class=False),
        MethodSpec("disk", _OneDisk(), scale="none", per_class=False),
    ]
    scenes = SyntheticScenes(64, seed=12, split="test")
    # Few deletion steps: the games are not under test here, only what sits beside them.
    result = evaluate(
        methods, model, scenes, range(64), batch_size=32, progress=False, deletion_steps=4
    )
    return {row["method"]: row for row in result.rows()}, result


def test_the_mask_only_check_catches_a_method_whose_masks_encode_the_class(controlled_run):
    rows, result = controlled_run
    bands, disk = rows["bands"], rows["disk"]
    assert bands["mask_only_accuracy"] > bands["mask_only_chance"] + 0.5, bands
    assert disk["mask_only_accuracy"] <= disk["mask_only_chance"] + 0.1, disk
    # Read against the ground truth's own level, on the same held-out masks.
    assert set(result.mask_only) == {"Grad-CAM", "bands", "disk", "ground truth"}
    assert bands["mask_only_test_masks"] == disk["mask_only_test_masks"] > 30


def test_the_sharpness_control_blurs_sharper_maps_and_leaves_the_reference(controlled_run):
    rows, _ = controlled_run
    assert math.isnan(rows["Grad-CAM"]["blur_sigma"])
    assert math.isnan(rows["Grad-CAM"]["deletion_auc_blurred"])
    assert rows["bands"]["blur_sigma"] > 1  # sharp edges: blurred to Grad-CAM's roughness


def test_the_localisation_control_scores_the_objects_own_masks_once_for_every_row(
    controlled_run,
):
    rows, _ = controlled_run
    columns = [
        "deletion_auc_truth",
        "insertion_auc_truth",
        "deletion_auc_truth_blurred",
        "insertion_auc_truth_blurred",
    ]
    for column in columns:
        assert rows["Grad-CAM"][column] == rows["bands"][column] == rows["disk"][column]
    disk = rows["disk"]
    # The objects hold the class; a disk that ignores the image does not.
    assert disk["deletion_auc_truth"] < disk["deletion_auc"], disk
    assert disk["insertion_auc_truth"] > disk["insertion_auc"], disk


def test_a_map_as_smooth_as_the_reference_keeps_its_numbers():
    model = synthetic_classifier()
    images, labels, segmentation = collate_items(list(SyntheticScenes(6, seed=12, split="test")))
    gradcam = GradCAM(model)
    methods = [MethodSpec("Grad-CAM", gradcam), MethodSpec("Grad-CAM, again", gradcam)]
    result = compare(methods, images, labels, segmentation)
    games = score_faithfulness(model, methods, result, deletion_steps=4, controls=True)
    again = games.per_pair["Grad-CAM, again"]
    assert (again["blur_sigma"] == 0).all()  # no blur, the same games, the same numbers
    assert torch.equal(again["deletion_auc_blurred"], again["deletion_auc"])
    assert torch.equal(again["insertion_auc_blurred"], again["insertion_auc"])
    assert games.shapes["Grad-CAM"].shape == (len(result.pair_classes), 1, 32, 32)
    assert games.truth_shapes is not None and games.truth_shapes.any()


def test_the_controls_can_be_left_out():
    model = synthetic_classifier()
    scenes = SyntheticScenes(4, seed=12, split="test")
    methods = [MethodSpec("Grad-CAM", GradCAM(model)), MethodSpec("disk", _OneDisk(), scale="none")]
    result = evaluate(methods, model, scenes, range(4), progress=False, controls=False)
    columns = set(result.rows()[0])
    assert not any(word in c for c in columns for word in ("blur", "mask_only", "truth"))
    assert result.mask_only == {}
