"""Localisation against ground truth: pointing games and the Explainer paper's mask scores.
(How maps are scaled and merged before them lives with the other map helpers, in
:mod:`captum_explainer.maps`.)

Every function works on a whole batch at once. Segmentations follow the package's
convention (0 background, ``k + 1`` class ``k``, 255 void); void pixels are left out of
every score, as VOC's evaluation leaves them out.
"""

from __future__ import annotations

import torch

from captum_explainer.data.types import BOUNDARY_LABEL
from captum_explainer.maps import SCALE_RULES, merge_class_maps, scale_maps  # noqa: F401

F1_THRESHOLDS = (0.25, 0.5, 0.75)
IOU_THRESHOLDS = tuple(round(0.1 * i, 1) for i in range(1, 10))


def _foreground(segmentation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Class-agnostic foreground ``s`` and the valid (non-void) pixels, both ``(N, H, W)``."""
    valid = segmentation != BOUNDARY_LABEL
    return ((segmentation > 0) & valid).float(), valid.float()


def _f1(tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> torch.Tensor:
    return 2 * tp / (2 * tp + fp + fn).clamp(min=1e-12)


def roc_auc(values: torch.Tensor, positive: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Per-row ROC-AUC of ``values`` against binary ``positive`` over ``valid`` entries.

    Ties count one half (the Mann-Whitney statistic). Rows where ``positive`` takes one
    value only get NaN. All inputs ``(N, P)``.

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import roc_auc
        >>> values = torch.tensor([[0.9, 0.8, 0.1, 0.3]])
        >>> positive = torch.tensor([[1, 0, 0, 1]])
        >>> roc_auc(values, positive, valid=torch.ones(1, 4)).tolist()  # 3 of 4 pairs ordered
        [0.75]
    """
    pos = positive.bool() & valid.bool()
    neg = ~positive.bool() & valid.bool()
    inf = torch.tensor(float("inf"), dtype=values.dtype, device=values.device)
    negatives = torch.where(neg, values, inf).sort(dim=1).values
    below = torch.searchsorted(negatives, values.contiguous(), side="left")
    at_or_below = torch.searchsorted(negatives, values.contiguous(), side="right")
    wins = (below + 0.5 * (at_or_below - below)).to(values.dtype)
    n_pos, n_neg = pos.sum(1), neg.sum(1)
    auc = (wins * pos).sum(1) / (n_pos * n_neg).clamp(min=1)
    return torch.where((n_pos > 0) & (n_neg > 0), auc, torch.full_like(auc, float("nan")))


def mask_scores(masks: torch.Tensor, segmentation: torch.Tensor) -> dict[str, torch.Tensor]:
    """The Explainer paper's mask scores (Stalder et al. 2022, Table 1), per image.

    Args:
        masks: ``(N, 1, H, W)`` in [0, 1] (see :func:`scale_maps`), typically the max over
            the labelled classes' maps (:func:`merge_class_maps`).
        segmentation: ``(N, H, W)``; its class-agnostic foreground is the ground truth ``s``.

    Returns:
        Per-image ``(N,)`` tensors: ``mean_f1`` (binary F1 averaged over thresholds 0.25,
        0.5, 0.75), ``continuous_f1`` (``tp = sum m s``, ``fp = sum m (1 - s)``,
        ``fn = sum (1 - m) s``), ``discrete_iou`` (averaged over thresholds 0.1 ... 0.9),
        ``continuous_iou`` (``sum min(m, s) / sum max(m, s)``), ``auc`` (ROC-AUC of map
        values against ``s``; NaN where ``s`` is all one value), ``background_coverage``
        (``mean(relu(m - s)) / (1 - area(s))``, lower is better) and ``object_coverage``
        (``1 - mean(relu(s - m)) / area(s)``, higher is better).

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import mask_scores
        >>> segmentation = torch.tensor([[[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]])
        >>> perfect = (segmentation > 0).float()[:, None]
        >>> scores = mask_scores(perfect, segmentation)
        >>> scores["continuous_iou"].tolist(), scores["background_coverage"].tolist()
        ([1.0], [0.0])
        >>> mask_scores(torch.ones(1, 1, 4, 4), segmentation)["continuous_iou"].tolist()  # 4 of 16
        [0.25]
    """
    if masks.dim() != 4 or masks.shape[1] != 1:
        raise ValueError(f"masks must be (N, 1, H, W), got {tuple(masks.shape)}")
    if segmentation.shape != (masks.shape[0], *masks.shape[-2:]):
        raise ValueError(
            f"segmentation must be (N, H, W) = {(masks.shape[0], *masks.shape[-2:])}, got "
            f"{tuple(segmentation.shape)}"
        )
    if masks.min() < 0 or masks.max() > 1:
        raise ValueError("masks must lie in [0, 1]; scale them first with scale_maps()")
    s, valid = _foreground(segmentation)
    m = masks[:, 0].float()
    flat = lambda t: t.flatten(1)  # noqa: E731
    m, s, valid = flat(m), flat(s), flat(valid)

    def binary_counts(threshold: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b = (m >= threshold).float() * valid
        return (b * s).sum(1), (b * (1 - s)).sum(1), ((1 - b) * s * valid).sum(1)

    mean_f1 = torch.stack([_f1(*binary_counts(t)) for t in F1_THRESHOLDS]).mean(0)
    ious = []
    for t in IOU_THRESHOLDS:
        tp, fp, fn = binary_counts(t)
        ious.append(tp / (tp + fp + fn).clamp(min=1e-12))
    tp, fp, fn = (m * s * valid).sum(1), (m * (1 - s) * valid).sum(1), ((1 - m) * s * valid).sum(1)
    n_valid = valid.sum(1).clamp(min=1)
    area = (s * valid).sum(1) / n_valid
    return {
        "mean_f1": mean_f1,
        "continuous_f1": _f1(tp, fp, fn),
        "discrete_iou": torch.stack(ious).mean(0),
        "continuous_iou": (torch.minimum(m, s) * valid).sum(1)
        / (torch.maximum(m, s) * valid).sum(1).clamp(min=1e-12),
        "auc": roc_auc(m, s, valid),
        "background_coverage": ((m - s).clamp(min=0) * valid).sum(1)
        / n_valid
        / (1 - area).clamp(min=1e-12),
        "object_coverage": 1
        - ((s - m).clamp(min=0) * valid).sum(1) / n_valid / area.clamp(min=1e-12),
    }


def class_pairs(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``(image, class)`` pairs of present classes: two ``(M,)`` index tensors.

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import class_pairs
        >>> images, classes = class_pairs(torch.tensor([[1, 0, 1], [0, 1, 0]]))
        >>> images.tolist(), classes.tolist()
        ([0, 0, 1], [0, 2, 1])
    """
    images, classes = torch.nonzero(labels, as_tuple=True)
    return images, classes


#: Pointing-game protocols: ``"torchray"`` (default) counts a hit when a ground-truth pixel
#: lies at a distance strictly below the tolerance (TorchRay's benchmark); ``"inclusive"``
#: also counts a distance equal to it (the package's rule before 0.2).
POINTING_PROTOCOLS = ("torchray", "inclusive")

#: TorchRay's tolerance, in pixels of the original image.
TORCHRAY_TOLERANCE = 15.0


def default_tolerance(height: int) -> float:
    """15 pixels at 224, scaled with the image size: the tolerance used when the original
    image size is not known (the synthetic world, whose images are their own originals).

    Example:
        >>> from captum_explainer.metrics import default_tolerance
        >>> default_tolerance(224), default_tolerance(64)
        (15.0, 4.285714285714286)
    """
    return TORCHRAY_TOLERANCE * height / 224.0


def pointing_game(
    maps: torch.Tensor,
    truth: torch.Tensor,
    classes: torch.Tensor,
    num_classes: int,
    tolerance: float | None = None,
    protocol: str = "torchray",
    original_sizes: torch.Tensor | None = None,
) -> dict[str, torch.Tensor | float]:
    """Pointing game (Zhang et al. 2016, with TorchRay's benchmark protocol by default).

    For each (image, present class) pair, the map's maximum is a hit if a ground-truth pixel
    of that class lies within ``tolerance`` pixels of it.

    Args:
        maps: ``(M, 1, H, W)``, the class's map for each pair.
        truth: ``(M, H, W)``: either the segmentation of each pair's image (long: 0
            background, ``k + 1`` class ``k``) or a boolean mask of each pair's class (e.g.
            its bounding boxes, as TorchRay uses on VOC).
        classes: ``(M,)`` the class of each pair.
        num_classes: ``K``.
        tolerance: in pixels of the original image. Default: 15 (TorchRay's) where
            ``original_sizes`` is given, else 15 at 224 px scaled to the map's height
            (:func:`default_tolerance`).
        protocol: ``"torchray"`` (distance ``<`` tolerance) or ``"inclusive"`` (``<=``).
        original_sizes: ``(M, 2)`` height and width of each pair's original image; distances
            are then measured in its pixels (as TorchRay does by resizing the map to it).

    Returns:
        ``hits`` ``(M,)`` bool, ``per_class`` ``(K,)`` accuracy (NaN for absent classes)
        and ``mean``: the mean over classes, as TorchRay reports it.

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import pointing_game
        >>> segmentation = torch.zeros(2, 32, 32, dtype=torch.long)
        >>> segmentation[:, 4:10, 4:10] = 1  # class 0 at the top left of both images
        >>> maps = torch.zeros(2, 1, 32, 32)
        >>> maps[0, 0, 6, 6] = 1.0  # on the object: a hit
        >>> maps[1, 0, 28, 28] = 1.0  # far from it: a miss
        >>> result = pointing_game(maps, segmentation, classes=torch.tensor([0, 0]), num_classes=2)
        >>> result["hits"].tolist(), result["mean"]
        ([True, False], 0.5)
    """
    if protocol not in POINTING_PROTOCOLS:
        raise ValueError(f"protocol must be one of {list(POINTING_PROTOCOLS)}, got {protocol!r}")
    m, _, h, w = maps.shape
    if tolerance is None:
        tolerance = TORCHRAY_TOLERANCE if original_sizes is not None else default_tolerance(h)
    scale_y = scale_x = torch.ones(m, device=maps.device)
    if original_sizes is not None:
        sizes = original_sizes.to(maps.device).float()
        scale_y, scale_x = sizes[:, 0] / h, sizes[:, 1] / w
    peak = maps.flatten(1).argmax(1)
    py, px = (peak // w).float(), (peak % w).float()
    ys = torch.arange(h, device=maps.device, dtype=torch.float32)[None, :, None]
    xs = torch.arange(w, device=maps.device, dtype=torch.float32)[None, None, :]
    distance2 = ((ys - py[:, None, None]) * scale_y[:, None, None]) ** 2 + (
        (xs - px[:, None, None]) * scale_x[:, None, None]
    ) ** 2
    near = distance2 < tolerance**2 if protocol == "torchray" else distance2 <= tolerance**2
    inside = truth if truth.dtype == torch.bool else truth == (classes + 1)[:, None, None]
    hits = (near & inside).flatten(1).any(1)
    per_class = per_class_mean(hits.float(), classes, num_classes)
    return {"hits": hits, "per_class": per_class, "mean": float(per_class.nanmean())}


def energy_pointing_game(
    maps: torch.Tensor, segmentation: torch.Tensor, classes: torch.Tensor, num_classes: int
) -> dict[str, torch.Tensor | float]:
    """Energy-based pointing game (Wang et al., Score-CAM, 2020): the share of the map's
    positive mass inside the class's region. Same pair layout as :func:`pointing_game`.

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import energy_pointing_game
        >>> segmentation = torch.tensor([[[1, 1], [0, 0]]])
        >>> maps = torch.tensor([[[[2.0, 1.0], [1.0, -2.0]]]])  # negative values do not count
        >>> energy_pointing_game(maps, segmentation, torch.tensor([0]), num_classes=1)["mean"]
        0.75
    """
    positive = maps[:, 0].clamp(min=0)
    inside = segmentation == (classes + 1)[:, None, None]
    share = (positive * inside).flatten(1).sum(1) / positive.flatten(1).sum(1).clamp(min=1e-12)
    per_class = per_class_mean(share, classes, num_classes)
    return {"share": share, "per_class": per_class, "mean": float(per_class.nanmean())}


def per_class_mean(values: torch.Tensor, classes: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Mean of per-pair ``values`` for each class ``(K,)``, NaN values left out (a score
    undefined for that pair); NaN for a class without a defined value.

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import per_class_mean
        >>> values = torch.tensor([1.0, 0.0, float("nan"), 0.5])
        >>> per_class_mean(values, classes=torch.tensor([0, 0, 1, 2]), num_classes=4).tolist()
        [0.5, nan, 0.5, nan]
    """
    defined = ~torch.isnan(values.float())
    total = torch.zeros(num_classes, device=values.device).index_add_(
        0,
        classes,
        torch.where(defined, values.float(), torch.zeros_like(values, dtype=torch.float32)),
    )
    count = torch.zeros(num_classes, device=values.device).index_add_(0, classes, defined.float())
    return torch.where(count > 0, total / count.clamp(min=1), torch.full_like(total, float("nan")))
