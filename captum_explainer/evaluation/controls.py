"""The controls beside the faithfulness games: the mask-only check (can a mask's shape
alone tell its class?), the sharpness control (the games on maps blurred to the blur
reference's roughness) and the localisation control (the games ranked by the true object
masks: what a perfect localiser gets)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from captum_explainer.evaluation.comparison import ComparisonResult, MethodResult
from captum_explainer.metrics import (
    MaskOnlyResult,
    blur_to_match,
    gaussian_blur,
    mask_only_check,
    scale_maps,
)

#: Side of the binary shapes the mask-only check reads: the masks' silhouettes, not details.
SHAPE_SIDE = 32

#: Fewest (image, class) pairs the mask-only check is run on: with fewer, its held-out set is
#: a handful of masks and its accuracy says nothing (the demo's 8 images give about 16).
MASK_ONLY_MIN_MASKS = 60

#: The faithfulness columns the sharpness control repeats on blurred maps (name + this).
BLURRED = "_blurred"


def mask_shapes(maps: torch.Tensor, scale: str = "none") -> torch.Tensor:
    """Maps ``(M, 1, H, W)`` as the mask-only check reads them: scaled by their method's rule
    (:func:`~captum_explainer.metrics.scale_maps`), averaged down to ``SHAPE_SIDE`` pixels
    a side and thresholded at 0.5: ``(M, 1, SHAPE_SIDE, SHAPE_SIDE)`` booleans.

    Example:
        >>> import torch
        >>> from captum_explainer.evaluation.controls import mask_shapes
        >>> square = torch.zeros(1, 1, 64, 64)
        >>> square[..., :32, :32] = 1
        >>> shape = mask_shapes(square)
        >>> shape.shape, int(shape.sum())  # a quarter of 32 x 32
        (torch.Size([1, 1, 32, 32]), 256)
    """
    small = F.interpolate(scale_maps(maps.float(), scale), size=SHAPE_SIDE, mode="area")
    return small >= 0.5


def mask_only_checks(
    shapes: dict[str, torch.Tensor],
    classes: torch.Tensor,
    num_classes: int,
    truth: torch.Tensor | None = None,
    seed: int = 0,
    steps: int = 300,
    min_masks: int = MASK_ONLY_MIN_MASKS,
) -> dict[str, MaskOnlyResult]:
    """The mask-only check (:func:`~captum_explainer.metrics.mask_only_check`) of every
    method's shapes, and of the ground truth's (key ``"ground truth"``) where given: the
    level a perfect localiser reaches where the classes differ in shape. The same split and
    training for each (``seed``); nothing below ``min_masks`` pairs (default
    :data:`MASK_ONLY_MIN_MASKS`: too few held-out masks to read an accuracy).

    Args:
        shapes: method name -> ``(M, 1, S, S)`` binary shapes (:func:`mask_shapes`), one per
            (image, class) pair, the pairs in the same order for every method.
        classes: ``(M,)`` the class each pair explains.
        num_classes: ``K``.
        truth: ``(M, 1, S, S)`` the pairs' ground-truth shapes, or ``None``.
        seed, steps: the held-out split and the reader's training (Adam steps).
        min_masks: the fewest pairs checked.

    Returns:
        Name -> :class:`~captum_explainer.metrics.MaskOnlyResult`.

    Example:
        >>> import torch
        >>> from captum_explainer.evaluation.controls import mask_only_checks
        >>> classes = torch.arange(80) % 2
        >>> shapes = torch.zeros(80, 1, 32, 32, dtype=torch.bool)
        >>> shapes[classes == 0, :, :16] = True  # class 0: the top half; class 1: the bottom
        >>> shapes[classes == 1, :, 16:] = True
        >>> checks = mask_only_checks({"halves": shapes}, classes, 2, steps=100)
        >>> checks["halves"].accuracy
        1.0
    """
    named = dict(shapes)
    if truth is not None:
        named["ground truth"] = truth
    return {
        name: mask_only_check(masks.float(), classes, num_classes, steps=steps, seed=seed)
        for name, masks in named.items()
        if masks.shape[0] >= max(min_masks, 3)
    }


def mask_only_columns(checks: dict[str, MaskOnlyResult], name: str) -> dict[str, float]:
    """A method's mask-only columns for a table: its held-out accuracy, chance, the ground
    truth's accuracy (NaN without one) and the held-out masks' count; empty where the
    method was not checked.

    Example:
        >>> from captum_explainer.evaluation.controls import mask_only_columns
        >>> from captum_explainer.metrics import MaskOnlyResult
        >>> checks = {"Explainer": MaskOnlyResult(accuracy=0.4, chance=0.2, n_train=70, n_test=30)}
        >>> mask_only_columns(checks, "Explainer")["mask_only_truth"]
        nan
        >>> mask_only_columns(checks, "RISE")
        {}
    """
    if name not in checks:
        return {}
    truth = checks.get("ground truth")
    return {
        "mask_only_accuracy": checks[name].accuracy,
        "mask_only_chance": checks[name].chance,
        "mask_only_truth": truth.accuracy if truth else float("nan"),
        "mask_only_test_masks": checks[name].n_test,
    }


def pair_truth(result: ComparisonResult) -> torch.Tensor | None:
    """Each pair's own class's pixels as a binary shape (:func:`mask_shapes`)."""
    if result.segmentation is None:
        return None
    own = result.segmentation[result.pair_images] == (result.pair_classes[:, None, None] + 1)
    return mask_shapes(own[:, None].float())


#: Blur (pixels) that orders the ground truth's own pixels interior first and the rest
#: nearest first: the ranking a perfect localiser gives (:func:`truth_rankings`).
TRUTH_RANK_SIGMA = 2.0


def truth_rankings(result: ComparisonResult, reference_name: str | None) -> dict[str, torch.Tensor]:
    """The maps of the localisation control, by column suffix: each pair's own object
    pixels ranked interior first, then the rest nearest first (``"_truth"``: what a perfect
    localiser gives), and the same masks blurred to the reference method's roughness
    (``"_truth_blurred"``, where the reference ran). A method that beats the sharp truth in
    a game wins it by something other than finding the object; a game the blurred truth wins
    and the sharp truth loses rewards smoothness, not localisation. Empty without a
    segmentation."""
    if result.segmentation is None:
        return {}
    own = result.segmentation[result.pair_images] == (result.pair_classes[:, None, None] + 1)
    own = own[:, None].float()
    sigma = TRUTH_RANK_SIGMA * own.shape[-1] / 128
    ranking = own + 0.5 * gaussian_blur(own, kernel_size=2 * round(3 * sigma) + 1, sigma=sigma)
    variants = {"_truth": ranking}
    if reference_name in [m.name for m in result.methods]:
        reference = result[reference_name]
        target = scale_maps(reference.pair_maps.float(), reference.scale)
        variants["_truth" + BLURRED] = blur_to_match(own, target)[0]
    return variants


def blurred_to_reference(
    result: ComparisonResult, method: MethodResult, reference_name: str | None
) -> tuple[torch.Tensor, float] | None:
    """The sharpness control's maps: ``method``'s pair maps blurred to the reference
    method's roughness (:func:`~captum_explainer.metrics.blur_to_match`) and the blur's
    sigma in pixels (0: already as smooth); ``None`` where the reference did not run or is
    the method itself."""
    names = [m.name for m in result.methods]
    if reference_name not in names or method.name == reference_name:
        return None
    reference = result[reference_name]
    maps = scale_maps(method.pair_maps.float(), method.scale)
    target = scale_maps(reference.pair_maps.float(), reference.scale)
    return blur_to_match(maps, target)
