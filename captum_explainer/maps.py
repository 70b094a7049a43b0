"""Tensor helpers for maps, below every method, metric and figure: one value per pixel
(:func:`to_pixel_map`), a per-pixel map back to the input's shape for Captum's metrics
(:func:`expand_to_input`), an image for plotting (:func:`to_numpy_image`), the max over
chosen classes (:func:`max_over_classes`) that the Explainer's loss, its attribution and the
metrics share, and the package's one rule for bringing maps to [0, 1] (:func:`scale_maps`)
and merging an image's class maps (:func:`merge_class_maps`)."""

from __future__ import annotations

import numpy as np
import torch


def to_pixel_map(attributions: torch.Tensor, reduction: str = "abs_sum") -> torch.Tensor:
    """One value per pixel: ``(N, C, H, W)`` -> ``(N, 1, H, W)``.

    Args:
        attributions: an attribution batch; a ``(N, 1, H, W)`` map is returned unchanged.
        reduction: ``"abs_sum"`` (default, magnitude over channels, as usual for Integrated
            Gradients heatmaps), ``"sum"`` (signed), ``"max"`` or ``"mean"``.

    Example:
        >>> import torch
        >>> from captum_explainer.attr import to_pixel_map
        >>> attributions = torch.tensor([[[[1.0]], [[-2.0]], [[0.5]]]])  # (1, 3, 1, 1)
        >>> to_pixel_map(attributions).item(), to_pixel_map(attributions, "sum").item()
        (3.5, -0.5)
    """
    if attributions.dim() != 4:
        raise ValueError(
            f"attributions must be (N, C, H, W), got shape {tuple(attributions.shape)}"
        )
    if attributions.shape[1] == 1:
        return attributions
    if reduction == "abs_sum":
        return attributions.abs().sum(1, keepdim=True)
    if reduction == "sum":
        return attributions.sum(1, keepdim=True)
    if reduction == "max":
        return attributions.amax(1, keepdim=True)
    if reduction == "mean":
        return attributions.mean(1, keepdim=True)
    raise ValueError(f"reduction must be 'abs_sum', 'sum', 'max' or 'mean', got {reduction!r}")


def expand_to_input(attributions: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """Broadcast ``(N, 1, H, W)`` maps to the inputs' ``(N, C, H, W)``.

    ``captum.metrics.infidelity`` needs attributions of the input's exact shape.

    Example:
        >>> import torch
        >>> from captum_explainer.attr import expand_to_input
        >>> inputs = torch.rand(2, 3, 8, 8)
        >>> expand_to_input(torch.rand(2, 1, 8, 8), inputs).shape  # as captum.metrics.infidelity wants
        torch.Size([2, 3, 8, 8])
    """
    if attributions.shape == inputs.shape:
        return attributions
    if (
        attributions.dim() != 4
        or attributions.shape[1] != 1
        or attributions.shape[-2:] != inputs.shape[-2:]
    ):
        raise ValueError(
            f"attributions {tuple(attributions.shape)} cannot be expanded to inputs "
            f"{tuple(inputs.shape)}: expected (N, 1, H, W) with the inputs' H and W"
        )
    return attributions.expand_as(inputs).contiguous()


def to_numpy_image(tensor: torch.Tensor) -> np.ndarray:
    """One ``(C, H, W)`` tensor (or ``(1, C, H, W)``) as a channels-last ``(H, W, C)`` array,
    the layout ``captum.attr.visualization.visualize_image_attr`` expects.

    Example:
        >>> import torch
        >>> from captum_explainer.attr import to_numpy_image
        >>> to_numpy_image(torch.rand(1, 3, 16, 8)).shape
        (16, 8, 3)
    """
    if tensor.dim() == 4 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if tensor.dim() != 3:
        raise ValueError(f"expected one (C, H, W) tensor, got shape {tuple(tensor.shape)}")
    return tensor.detach().cpu().permute(1, 2, 0).numpy()


def max_over_classes(values: torch.Tensor, chosen: torch.Tensor, empty: float) -> torch.Tensor:
    """Per image, the max of ``values`` over its chosen classes.

    Args:
        values: ``(N, K, H, W)`` per-class maps or logits.
        chosen: ``(N, K)`` multi-hot (any dtype): the classes taken per image.
        empty: the value of an image with no chosen class (e.g. ``-inf`` for logits whose
            sigmoid must be 0, ``0`` for maps).

    Returns:
        ``(N, 1, H, W)``. Gradients reach ``values`` only at each pixel's maximum.
    """
    chosen = chosen.bool().to(values.device)
    lowest = torch.finfo(values.dtype).min  # finite, so no inf enters the graph
    merged = values.masked_fill(~chosen[:, :, None, None], lowest).amax(1, keepdim=True)
    none = ~chosen.any(1)[:, None, None, None]
    return torch.where(none, torch.full_like(merged, empty), merged)


#: How maps are brought to [0, 1] before mask scores, pointing games and figures.
SCALE_RULES = ("minmax", "max", "none")


def scale_maps(maps: torch.Tensor, rule: str = "minmax") -> torch.Tensor:
    """Bring maps ``(N, 1, H, W)`` (or ``(N, K, H, W)``, each map alone) to [0, 1].

    The one rule of the package, applied before every mask score, pointing game and figure:

    - ``"minmax"`` (saliency maps on arbitrary scales: Grad-CAM, RISE, Integrated
      Gradients, undesirable pixels): ``(m - min) / (max - min)`` per map, so a map with an
      offset (RISE's sit at about two thirds of their maximum everywhere) spans [0, 1]
      like any other; a constant map becomes all zero.
    - ``"none"`` (maps that are masks, whose values mean something: the Explainer, FGVis):
      clamped to [0, 1] only.
    - ``"max"``: negative values to 0, then divided by the map's maximum (an all-zero map
      stays zero). The package's rule before version 0.2, kept by name for comparison.

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import scale_maps
        >>> maps = torch.tensor([[[[-8.0, 0.0], [4.0, 8.0]]]])
        >>> scale_maps(maps).flatten().tolist()
        [0.0, 0.5, 0.75, 1.0]
        >>> scale_maps(maps, rule="max").flatten().tolist()
        [0.0, 0.0, 0.5, 1.0]
    """
    if rule == "none":
        return maps.clamp(0, 1)
    flat = maps.flatten(2)
    if rule == "minmax":
        low = flat.amin(2)[..., None, None]
        span = (flat.amax(2)[..., None, None] - low).clamp(min=1e-12)
        return ((maps - low) / span).clamp(0, 1)
    if rule == "max":
        positive = maps.clamp(min=0)
        peak = positive.flatten(2).amax(2).clamp(min=1e-12)
        return positive / peak[..., None, None]
    raise ValueError(f"rule must be one of {list(SCALE_RULES)}, got {rule!r}")


def merge_class_maps(class_maps: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per image, the max over the labelled classes' maps: ``(N, K, H, W) -> (N, 1, H, W)``.

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import merge_class_maps
        >>> class_maps = torch.tensor([[[[0.9]], [[0.2]], [[0.5]]]])  # 1 image, 3 classes, 1 x 1
        >>> merge_class_maps(class_maps, labels=torch.tensor([[0, 1, 1]])).flatten().tolist()
        [0.5]
    """
    return max_over_classes(class_maps, labels, empty=0.0)
