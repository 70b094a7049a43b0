"""The shipped Explainer: documented, and its numbers guarded against regressions."""

import json

import torch

from captum_explainer import ExplainerAttribution, GradCAM
from captum_explainer.compare import MethodSpec, compare
from captum_explainer.data import SyntheticScenes, collate_items
from captum_explainer.models import SmallExplainer, synthetic_classifier, synthetic_explainer
from captum_explainer.models.pretrained import SYNTHETIC_EXPLAINER, manifest

# Measured on exactly this set (see the manifest's "regression_guard"); the margin only
# absorbs float differences between machines.
GUARD_IMAGES = dict(length=48, seed=4242, split="test")
MARGIN = 0.01


def test_shipped_explainer_is_small_and_documented():
    assert SYNTHETIC_EXPLAINER.stat().st_size <= 10 * 1024 * 1024
    info = manifest(SYNTHETIC_EXPLAINER)
    assert info["command"].startswith("captum-explainer train-explainer")
    assert info["seed"] == 0 and info["package_version"]
    assert isinstance(synthetic_explainer(), SmallExplainer)


def test_shipped_explainer_keeps_its_numbers_and_beats_gradcam():
    guard = manifest(SYNTHETIC_EXPLAINER)["regression_guard"]
    model = synthetic_classifier()
    data = SyntheticScenes(**GUARD_IMAGES)
    images, labels, segmentation = collate_items([data[i] for i in range(len(data))])
    result = compare(
        [
            MethodSpec(
                "Explainer", ExplainerAttribution(synthetic_explainer(), model), scale="none"
            ),
            MethodSpec("Grad-CAM", GradCAM(model)),
        ],
        images,
        labels,
        segmentation,
    )
    explainer, gradcam = result["Explainer"].metrics, result["Grad-CAM"].metrics
    for metric in ("continuous_iou", "mean_f1", "class_iou", "own_object_share"):
        assert explainer[metric] >= guard[metric] - MARGIN, (
            metric,
            explainer[metric],
            guard[metric],
        )
    assert explainer["absent_class_mass"] <= guard["absent_class_mass"] + MARGIN
    for metric in ("continuous_iou", "mean_f1", "class_iou"):
        assert explainer[metric] > gradcam[metric], metric
    print(json.dumps({"explainer": explainer, "gradcam": gradcam}))


def test_masks_are_class_specific_on_average():
    # The target class's mask covers that class's pixels more than other classes' masks do.
    model = synthetic_classifier()
    data = SyntheticScenes(24, seed=4243, split="test")
    images, labels, segmentation = collate_items([data[i] for i in range(len(data))])
    masks = ExplainerAttribution(synthetic_explainer(), model).attribute_all_classes(images)
    inside = torch.stack([(segmentation == k + 1) for k in range(8)], dim=1).float()  # (N, K, H, W)
    own = (masks * inside).sum() / inside.sum()
    present = labels.bool()[:, :, None, None]
    other_classes = torch.stack(
        [torch.stack([masks[:, j] for j in range(8) if j != k], 1).amax(1) for k in range(8)], 1
    )
    others = (other_classes * inside * present).sum() / (inside * present).sum()
    assert own > others + 0.2
