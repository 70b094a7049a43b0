"""Class-specific localisation: every class's map against that class's own pixels.

The class-agnostic mask scores (:func:`~captum_explainer.metrics.localization.mask_scores`)
merge an image's present classes into one map, so a method that draws the same blob for
every class scores as well as one that separates them. These scores need a segmentation
with one label per class (the synthetic world, VOC ``SegmentationClass``, COCO instance
masks) and every class's map of every image, absent classes included.

Maps are compared on one scale per image (:func:`scale_class_maps`): an absent class's
faint map must stay faint beside the present classes' maps, which scaling each map alone
would undo.
"""

from __future__ import annotations

import torch

from captum_explainer.data.types import BOUNDARY_LABEL
from captum_explainer.metrics.localization import F1_THRESHOLDS, class_pairs, scale_maps

#: What :func:`class_mask_scores` returns per (image, present class) pair and per image.
PAIR_SCORES = ("class_iou", "class_f1", "own_object_share")
IMAGE_SCORES = ("absent_class_mass",)


def scale_class_maps(class_maps: torch.Tensor, rule: str = "minmax") -> torch.Tensor:
    """Bring every class's map ``(N, K, H, W)`` to [0, 1] with one scale per image.

    ``rule`` as :func:`~captum_explainer.metrics.localization.scale_maps`, applied to the
    ``K`` maps of an image together (``"minmax"``: the image's lowest value over every class
    becomes 0 and its highest 1), so the maps' relative strengths survive.

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import scale_class_maps
        >>> class_maps = torch.tensor([[[[0.0, 2.0]], [[1.0, 4.0]]]])  # 1 image, 2 classes, 1 x 2
        >>> scale_class_maps(class_maps).flatten().tolist()  # one scale for both classes
        [0.0, 0.5, 0.25, 1.0]
    """
    if class_maps.dim() != 4:
        raise ValueError(f"class_maps must be (N, K, H, W), got {tuple(class_maps.shape)}")
    n, k, h, w = class_maps.shape
    return scale_maps(class_maps.reshape(n, 1, k * h, w), rule).reshape(n, k, h, w)


def class_mask_scores(
    class_maps: torch.Tensor, segmentation: torch.Tensor, labels: torch.Tensor
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Per-class IoU and F1, own-object share and absent-class mass.

    For each (image, present class ``k``) pair, with ``m`` class ``k``'s map and ``s`` the
    pixels labelled ``k`` (void pixels left out):

    - ``class_iou``: continuous IoU ``sum min(m, s) / sum max(m, s)``;
    - ``class_f1``: binary F1 of ``m >= t`` against ``s``, averaged over ``t`` in 0.25, 0.5, 0.75;
    - ``own_object_share``: ``sum m s / sum m o`` with ``o`` every object pixel: how much of
      the map's mass on objects lies on its own class's objects. NaN where the image holds
      no object of another class (the share is then 1 by construction).

    For each image: ``absent_class_mass``, the mean mass ``sum m`` of the absent classes'
    maps over the mean mass of the present classes' maps (0: absent classes get empty maps;
    1: as large as present ones). NaN where no class is absent or the present maps are empty.

    Args:
        class_maps: ``(N, K, H, W)`` in [0, 1], every class's map (see :func:`scale_class_maps`).
        segmentation: ``(N, H, W)`` long: 0 background, ``k + 1`` class ``k``, 255 void.
        labels: ``(N, K)`` multi-hot: the classes present.

    Returns:
        ``(per_pair, per_image)``: ``(M,)`` tensors in the pair order of
        :func:`~captum_explainer.metrics.localization.class_pairs`, and ``(N,)`` tensors.

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import class_mask_scores
        >>> segmentation = torch.tensor([[[1, 1, 2, 2], [0, 0, 0, 0]]])  # class 0 left, class 1 right
        >>> labels = torch.tensor([[1, 1, 0]])  # class 2 absent
        >>> class_maps = torch.zeros(1, 3, 2, 4)
        >>> class_maps[0, 0, 0, :2] = 1.0  # class 0's map on class 0's pixels
        >>> class_maps[0, 1, 0, :] = 1.0  # class 1's map on both objects
        >>> per_pair, per_image = class_mask_scores(class_maps, segmentation, labels)
        >>> per_pair["class_iou"].tolist(), per_pair["own_object_share"].tolist()
        ([1.0, 0.5], [1.0, 0.5])
        >>> per_image["absent_class_mass"].tolist()
        [0.0]
    """
    n, k, h, w = class_maps.shape
    if segmentation.shape != (n, h, w) or labels.shape != (n, k):
        raise ValueError(
            f"for class_maps {tuple(class_maps.shape)} segmentation must be {(n, h, w)} and "
            f"labels {(n, k)}; got {tuple(segmentation.shape)} and {tuple(labels.shape)}"
        )
    if class_maps.min() < 0 or class_maps.max() > 1:
        raise ValueError("class_maps must lie in [0, 1]; scale them first with scale_class_maps()")
    maps = class_maps.float().flatten(2)
    seg = segmentation.flatten(1)
    valid = (seg != BOUNDARY_LABEL).float()
    objects = ((seg > 0) & (seg != BOUNDARY_LABEL)).float()

    pair_images, pair_classes = class_pairs(labels)
    m = maps[pair_images, pair_classes] * valid[pair_images]
    own = (seg[pair_images] == (pair_classes + 1)[:, None]).float()
    intersection = torch.minimum(m, own).sum(1)
    union = torch.maximum(m, own).sum(1)
    f1s = []
    for threshold in F1_THRESHOLDS:
        b = (m >= threshold).float() * valid[pair_images]
        tp, fp, fn = (b * own).sum(1), (b * (1 - own)).sum(1), ((1 - b) * own).sum(1)
        f1s.append(2 * tp / (2 * tp + fp + fn).clamp(min=1e-12))
    on_objects = (m * objects[pair_images]).sum(1)
    others = (objects[pair_images] - own).clamp(min=0).sum(1) > 0
    share = (m * own).sum(1) / on_objects.clamp(min=1e-12)
    nan = torch.full_like(share, float("nan"))
    per_pair = {
        "class_iou": intersection / union.clamp(min=1e-12),
        "class_f1": torch.stack(f1s).mean(0),
        "own_object_share": torch.where(others & (on_objects > 0), share, nan),
    }

    mass = (maps * valid[:, None]).sum(2)  # (N, K)
    present = labels.bool()
    n_present, n_absent = present.sum(1), (~present).sum(1)
    present_mass = (mass * present).sum(1) / n_present.clamp(min=1)
    absent_mass = (mass * ~present).sum(1) / n_absent.clamp(min=1)
    ratio = absent_mass / present_mass.clamp(min=1e-12)
    keep = (n_absent > 0) & (n_present > 0) & (present_mass > 0)
    per_image = {
        "absent_class_mass": torch.where(keep, ratio, torch.full_like(ratio, float("nan")))
    }
    return per_pair, per_image
