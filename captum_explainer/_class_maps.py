"""One operation on per-class maps shared by the Explainer's loss, its attribution and the
metrics: the max over chosen classes. Below all three, so each reads it the same way."""

from __future__ import annotations

import torch


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
