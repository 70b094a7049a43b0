"""Faithfulness to the model: does the map point at what the classifier really uses?

Every function evaluates a whole batch with batched forward passes. "Masking by ``m``"
is ``m * x + (1 - m) * b`` with ``b`` zeros in normalised space (the dataset's mean
colour) unless a baseline is given. Scores go through the same ``score`` rule as the
attribution methods (``"softmax"``, ``"sigmoid"``, ``"logit"`` or a callable).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from captum_explainer.scores import ScoreType, class_scores

#: Thresholds at which class specificity binarises each map (the Explainer paper's 0.1 ... 0.9).
SPECIFICITY_THRESHOLDS = tuple(round(0.1 * i, 1) for i in range(1, 10))


def _scores(
    model: Callable, images: torch.Tensor, score: ScoreType, batch_size: int
) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([class_scores(model(chunk), score) for chunk in images.split(batch_size)])


def saliency_metric(
    model: Callable,
    images: torch.Tensor,
    masks: torch.Tensor,
    labels: torch.Tensor,
    baseline: float | torch.Tensor = 0.0,
    batch_size: int = 256,
) -> torch.Tensor:
    """Saliency metric (Dabkowski & Gal 2017, as used by Stalder et al. 2022), per image.

    ``log(max(mean(m), 0.05)) - log(p)`` with ``p`` the summed softmax probability of the
    labelled classes (each counted once) on the masked image ``m * x``. Lower is better:
    a small mask that keeps the classes.

    Args:
        model: the classifier, ``(N, C, H, W) -> (N, K)`` logits.
        images: ``(N, C, H, W)``; masks: ``(N, 1, H, W)`` in [0, 1]; labels: ``(N, K)``.

    Returns:
        ``(N,)`` values.

    Example:
        >>> import torch
        >>> from captum_explainer import SyntheticScenes
        >>> from captum_explainer.data import collate_items
        >>> from captum_explainer.metrics import saliency_metric
        >>> from captum_explainer.models import synthetic_classifier
        >>> scenes = SyntheticScenes(4, seed=1, split="val")
        >>> images, labels, segmentation = collate_items(list(scenes))
        >>> masks = (segmentation > 0).float()[:, None]  # the objects themselves
        >>> saliency_metric(synthetic_classifier(), images, masks, labels).shape
        torch.Size([4])
    """
    masked = masks * images + (1 - masks) * baseline
    probabilities = _scores(model, masked, "softmax", batch_size)
    p = (probabilities * labels.bool()).sum(1).clamp(min=1e-12)
    area = masks.flatten(1).mean(1).clamp(min=0.05)
    return torch.log(area) - torch.log(p)


def gaussian_blur(
    images: torch.Tensor, kernel_size: int | None = None, sigma: float | None = None
) -> torch.Tensor:
    """A separable Gaussian blur; by default the RISE paper's (kernel 11, sigma 5 at 224 px,
    scaled with the image).

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import gaussian_blur
        >>> images = torch.zeros(1, 3, 64, 64)
        >>> images[..., 32, 32] = 1.0
        >>> blurred = gaussian_blur(images)
        >>> blurred.shape, round(float(blurred.sum() / 3), 3)  # mass kept, spread out
        (torch.Size([1, 3, 64, 64]), 1.0)
    """
    height = images.shape[-2]
    sigma = sigma if sigma is not None else 5.0 * height / 224
    kernel_size = (
        kernel_size if kernel_size is not None else max(3, 2 * round(5 * height / 224) + 1)
    )
    coords = (
        torch.arange(kernel_size, dtype=images.dtype, device=images.device) - (kernel_size - 1) / 2
    )
    kernel = torch.exp(-(coords**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    c = images.shape[1]
    pad = kernel_size // 2
    x = F.pad(images, (pad, pad, pad, pad), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).expand(c, 1, 1, kernel_size), groups=c)
    return F.conv2d(x, kernel.view(1, 1, -1, 1).expand(c, 1, kernel_size, 1), groups=c)


@dataclass
class CausalCurves:
    """Deletion and insertion (Petsiuk et al. 2018): curves ``(N, steps + 1)`` over the
    fraction of pixels in ``x`` and their areas ``(N,)`` by the trapezoid rule.

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import CausalCurves
        >>> x = torch.linspace(0, 1, 5)[None]
        >>> curves = CausalCurves(x, deletion=1 - x, insertion=x)
        >>> curves.deletion_auc.tolist(), curves.insertion_auc.tolist(), curves.evidence_warnings()
        ([0.5], [0.5], [])
    """

    x: torch.Tensor
    deletion: torch.Tensor
    insertion: torch.Tensor

    @property
    def deletion_auc(self) -> torch.Tensor:
        return torch.trapezoid(self.deletion, self.x, dim=1)

    @property
    def insertion_auc(self) -> torch.Tensor:
        return torch.trapezoid(self.insertion, self.x, dim=1)

    @property
    def blank_score(self) -> torch.Tensor:
        """``(N,)`` the class's score once every pixel is deleted (the all-baseline image):
        the level a deletion curve ends at and the floor its area is read against."""
        return self.deletion[:, -1]

    @property
    def canvas_score(self) -> torch.Tensor:
        """``(N,)`` the class's score on the insertion canvas, before any pixel is revealed:
        where an insertion curve starts. Near :attr:`blank_score` when the canvas removes
        the class's evidence, as it must for insertion to rank maps."""
        return self.insertion[:, 0]

    @property
    def image_score(self) -> torch.Tensor:
        """``(N,)`` the class's score on the image itself (the start of deletion)."""
        return self.deletion[:, 0]

    def evidence_warnings(self, fraction: float = 0.25) -> list[str]:
        """Where the insertion canvas or the deletion baseline keeps the class: the mean
        score on it above ``blank + fraction * (image - blank)`` (for the baseline: above
        ``fraction`` of the image's score). Empty when both remove the evidence."""
        blank, image = float(self.blank_score.mean()), float(self.image_score.mean())
        canvas = float(self.canvas_score.mean())
        warnings = []
        # Where the image itself scores no higher than the blank, no canvas can be judged;
        # the baseline's warning below says what is wrong then.
        if image - blank > 0.05 and canvas > blank + fraction * (image - blank):
            warnings.append(
                f"the insertion canvas keeps the class (score {canvas:.3f} on it, {blank:.3f} "
                f"on the blank image, {image:.3f} on the image): insertion cannot rank maps; "
                f"use a canvas that removes the evidence (canvas='blur' or 'mean')"
            )
        if blank > fraction * image:
            warnings.append(
                f"the deletion baseline keeps the class (score {blank:.3f} on the all-baseline "
                f"image, {image:.3f} on the image): deletion areas cannot fall below it"
            )
        return warnings


#: Insertion canvases: ``"blur"`` (default) a Gaussian blur with sigma 1/16 of the image
#: side, strong enough to remove shapes at any resolution; ``"rise-blur"`` the RISE paper's
#: kernel 11, sigma 5 at 224 px scaled with the image (too weak for small images: at 64 px
#: it keeps the synthetic shapes); ``"mean"`` each image's mean colour; ``"blank"`` the
#: deletion baseline.
CANVASES = ("blur", "rise-blur", "mean", "blank")


def insertion_canvas(
    images: torch.Tensor, canvas: str = "blur", baseline: float | torch.Tensor = 0.0
) -> torch.Tensor:
    """What insertion starts from before revealing pixels (see :data:`CANVASES`).

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import insertion_canvas
        >>> images = torch.rand(2, 3, 64, 64)
        >>> insertion_canvas(images, "mean")[0, :, 0, 0].allclose(images[0].mean(dim=(1, 2)))
        True
        >>> insertion_canvas(images, "blur").shape
        torch.Size([2, 3, 64, 64])
    """
    if canvas == "blur":
        sigma = images.shape[-2] / 16
        return gaussian_blur(images, kernel_size=2 * round(3 * sigma) + 1, sigma=sigma)
    if canvas == "rise-blur":
        return gaussian_blur(images)
    if canvas == "mean":
        return images.mean(dim=(2, 3), keepdim=True).expand_as(images)
    if canvas == "blank":
        return torch.as_tensor(baseline, dtype=images.dtype, device=images.device).expand_as(images)
    raise ValueError(f"canvas must be one of {list(CANVASES)}, got {canvas!r}")


def deletion_insertion(
    model: Callable,
    images: torch.Tensor,
    maps: torch.Tensor,
    targets: torch.Tensor,
    n_steps: int = 32,
    score: ScoreType = "softmax",
    baseline: float | torch.Tensor = 0.0,
    batch_size: int = 256,
    canvas: str = "blur",
) -> CausalCurves:
    """Deletion and insertion games (RISE paper), all images and steps batched.

    Pixels are ranked by the map, highest first. Deletion replaces the top ``k`` pixels
    with the baseline; insertion reveals them on a canvas that must hold none of the class's
    evidence (:func:`insertion_canvas`; :meth:`CausalCurves.evidence_warnings` checks it).
    The curve is the explained class's score after each of ``n_steps`` equal steps.
    Lower deletion and higher insertion areas are better.

    Args:
        maps: ``(N, 1, H, W)`` (any scale: only the order of pixels matters).
        targets: ``(N,)`` the class each map explains.
        canvas: the insertion canvas, one of :data:`CANVASES`.

    Example:
        >>> from captum_explainer import SyntheticScenes
        >>> from captum_explainer.data import collate_items
        >>> from captum_explainer.metrics import deletion_insertion, random_maps
        >>> from captum_explainer.models import synthetic_classifier
        >>> scenes = SyntheticScenes(8, seed=1, split="val")
        >>> images, labels, segmentation = collate_items(list(scenes))
        >>> targets = labels.argmax(1)  # one present class per image
        >>> truth = (segmentation == (targets + 1)[:, None, None]).float()[:, None]
        >>> model = synthetic_classifier()
        >>> curves = deletion_insertion(model, images, truth, targets, n_steps=16, score="sigmoid")
        >>> curves.deletion.shape  # (images, steps + 1)
        torch.Size([8, 17])
        >>> noise = deletion_insertion(
        ...     model, images, random_maps(truth), targets, n_steps=16, score="sigmoid"
        ... )
        >>> bool(curves.insertion_auc.mean() > noise.insertion_auc.mean())  # the objects matter more
        True
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps!r}")
    if canvas not in CANVASES:
        raise ValueError(f"canvas must be one of {list(CANVASES)}, got {canvas!r}")
    n, c, h, w = images.shape
    order = maps.reshape(n, -1).argsort(dim=1, descending=True, stable=True)
    rank = torch.empty_like(order).scatter_(
        1, order, torch.arange(h * w, device=images.device).expand(n, -1)
    )
    counts = torch.round(torch.linspace(0, h * w, n_steps + 1, device=images.device)).long()
    chosen = (rank[:, None, :] < counts[None, :, None]).reshape(n * (n_steps + 1), 1, h, w)
    repeated = images.repeat_interleave(n_steps + 1, dim=0)
    base = torch.as_tensor(baseline, dtype=images.dtype, device=images.device)
    base = base.expand_as(images).repeat_interleave(n_steps + 1, dim=0) if base.dim() else base
    blurred = insertion_canvas(images, canvas, baseline).repeat_interleave(n_steps + 1, dim=0)
    step_targets = targets.repeat_interleave(n_steps + 1).to(images.device)

    def curve(canvas: torch.Tensor) -> torch.Tensor:
        probabilities = _scores(model, canvas, score, batch_size)
        return probabilities.gather(1, step_targets[:, None])[:, 0].reshape(n, n_steps + 1)

    deletion = curve(torch.where(chosen, base, repeated))
    insertion = curve(torch.where(chosen, repeated, blurred))
    x = (counts.float() / (h * w)).expand(n, -1)
    return CausalCurves(x, deletion, insertion)


@dataclass
class ClassSpecificity:
    """Mean probability of class ``t`` (rows) on images containing ``t``, masked with the
    map of class ``k`` (columns), over thresholds 0.1 ... 0.9. ``blank``: the classifier's
    mean probability on a blank (all-baseline) image, the level an uninformative mask reaches;
    ``unmasked``: class ``t``'s mean probability on its images without any mask, the level a
    perfect mask keeps (NaN for classes without images).

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import ClassSpecificity
        >>> result = ClassSpecificity(
        ...     matrix=torch.tensor([[0.9, 0.1], [0.2, 0.8]]), blank=torch.tensor([0.05, 0.05])
        ... )
        >>> result.matrix.diagonal().tolist()  # class t's score with class t's own masks
        [0.8999999761581421, 0.800000011920929]
    """

    matrix: torch.Tensor  # (K, K), NaN for classes without images
    blank: torch.Tensor  # (K,)
    unmasked: torch.Tensor | None = None  # (K,)

    @property
    def diagonal(self) -> float:
        return float(self.matrix.diagonal().nanmean())

    @property
    def off_diagonal(self) -> float:
        k = self.matrix.shape[0]
        off = self.matrix[~torch.eye(k, dtype=torch.bool, device=self.matrix.device)]
        return float(off.nanmean())


def class_specificity(
    model: Callable,
    images: torch.Tensor,
    class_maps: torch.Tensor,
    labels: torch.Tensor,
    score: ScoreType = "softmax",
    thresholds: tuple[float, ...] = SPECIFICITY_THRESHOLDS,
    baseline: float | torch.Tensor = 0.0,
    batch_size: int = 256,
) -> ClassSpecificity:
    """Class specificity (Stalder et al. 2022): are class ``k``'s masks about class ``k``?

    Each image is masked with each class's map, binarised at each threshold; the score of
    every present class ``t`` is read from the same forward pass.

    Args:
        class_maps: ``(N, K, H, W)`` in [0, 1], every class's map of every image.
        labels: ``(N, K)``.

    Example:
        >>> import torch
        >>> from captum_explainer import SyntheticScenes
        >>> from captum_explainer.data import collate_items
        >>> from captum_explainer.metrics import class_specificity
        >>> from captum_explainer.models import synthetic_classifier
        >>> scenes = SyntheticScenes(8, seed=1, split="val")
        >>> images, labels, segmentation = collate_items(list(scenes))
        >>> class_maps = torch.stack([(segmentation == k + 1).float() for k in range(8)], dim=1)
        >>> result = class_specificity(
        ...     synthetic_classifier(), images, class_maps, labels, score="sigmoid", thresholds=(0.5,)
        ... )
        >>> result.matrix.shape  # (scored class, mask class)
        torch.Size([8, 8])
    """
    n, k = labels.shape
    thr = torch.tensor(thresholds, device=images.device, dtype=images.dtype)
    per_mask_class = []
    for mask_class in range(k):  # one batch of N x thresholds images per mask class
        binary = (class_maps[:, mask_class, None] >= thr[None, :, None, None]).to(images.dtype)
        binary = binary[:, :, None]  # (N, T, 1, H, W)
        masked = binary * images[:, None] + (1 - binary) * baseline
        probabilities = _scores(model, masked.flatten(0, 1), score, batch_size)
        per_mask_class.append(probabilities.reshape(n, len(thresholds), k).mean(1))
    mean_over_thresholds = torch.stack(per_mask_class, dim=1)  # (N, mask class k, scored class t)
    present = labels.bool().to(images.device)
    totals = torch.einsum("nt,nkt->tk", present.to(images.dtype), mean_over_thresholds)
    counts = present.sum(0).to(images.dtype)[:, None]
    matrix = torch.where(
        counts > 0, totals / counts.clamp(min=1), torch.full_like(totals, math.nan)
    )
    blank_image = torch.zeros_like(images[:1]) + baseline
    blank = _scores(model, blank_image, score, batch_size)[0]
    own = (present.to(images.dtype) * _scores(model, images, score, batch_size)).sum(0)
    unmasked = torch.where(
        counts[:, 0] > 0, own / counts[:, 0].clamp(min=1), torch.full_like(own, math.nan)
    )
    return ClassSpecificity(matrix, blank, unmasked)


def undesirable_recovery(
    model: Callable,
    images: torch.Tensor,
    maps: torch.Tensor,
    targets: torch.Tensor,
    fractions: tuple[float, ...] = (0.01, 0.05, 0.1),
    score: ScoreType = "softmax",
    baseline: float | torch.Tensor = 0.0,
    batch_size: int = 256,
) -> dict[float, dict[str, float]]:
    """Undesirable-pixel recovery (a reconstruction of Kang et al.'s metric).

    Remove the top ``q`` of an undesirable-pixel map (replace with the baseline, as the
    masks do) and report, per fraction ``q``, the mean rise of the target's score and the
    share of images whose top-1 class becomes the target. Only images whose top-1 class
    is not already the target count: there is nothing to recover on the others. Compare
    with a random map (:func:`random_maps`) as the reference row.

    Returns:
        ``{q: {"score_rise": ..., "became_top1": ..., "images": n}}`` with ``n`` the
        images counted (NaN rates where ``n`` is 0).

    Example:
        >>> import torch
        >>> from captum_explainer import SyntheticScenes
        >>> from captum_explainer.data import collate_items
        >>> from captum_explainer.metrics import random_maps, undesirable_recovery
        >>> from captum_explainer.models import synthetic_classifier
        >>> scenes = SyntheticScenes(8, seed=1, split="val")
        >>> images, labels, _ = collate_items(list(scenes))
        >>> targets = torch.zeros(8, dtype=torch.long)  # try to recover class 0 everywhere
        >>> maps = random_maps(images[:, :1])  # the reference row: a random map
        >>> result = undesirable_recovery(synthetic_classifier(), images, maps, targets)
        >>> sorted(result), sorted(result[0.05])
        ([0.01, 0.05, 0.1], ['became_top1', 'images', 'score_rise'])
    """
    n, _, h, w = images.shape
    scores_before = _scores(model, images, score, batch_size)
    counted = scores_before.argmax(1) != targets
    before = scores_before.gather(1, targets[:, None])[:, 0]
    rank = maps.reshape(n, -1).argsort(dim=1, descending=True, stable=True).argsort(dim=1)
    results = {}
    for q in fractions:
        removed = (rank < round(q * h * w)).reshape(n, 1, h, w)
        edited = torch.where(removed, torch.as_tensor(baseline, dtype=images.dtype), images)
        after = _scores(model, edited, score, batch_size)
        rise = (after.gather(1, targets[:, None])[:, 0] - before)[counted]
        top1 = (after.argmax(1) == targets)[counted]
        results[q] = {
            "score_rise": float(rise.mean()) if counted.any() else float("nan"),
            "became_top1": float(top1.float().mean()) if counted.any() else float("nan"),
            "images": int(counted.sum()),
        }
    return results


def random_maps(like: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Uniform random maps shaped like ``like``: the reference row of a ranking metric.

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import random_maps
        >>> maps = random_maps(torch.empty(2, 1, 8, 8), seed=3)
        >>> maps.shape, bool(maps.equal(random_maps(maps, seed=3)))
        (torch.Size([2, 1, 8, 8]), True)
    """
    generator = torch.Generator(device=like.device).manual_seed(seed)
    return torch.rand(like.shape, generator=generator, device=like.device, dtype=like.dtype)
