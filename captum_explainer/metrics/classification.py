"""How well the classifier being explained does its own job."""

from __future__ import annotations

import torch


def average_precision(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-class average precision of multi-label scores (non-interpolated, as scikit-learn).

    Args:
        scores: ``(N, K)`` scores or logits; higher means more confident.
        labels: ``(N, K)`` multi-hot ground truth.

    Returns:
        ``(K,)`` average precision per class; NaN for a class with no positive example.

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import average_precision
        >>> scores = torch.tensor([[0.9, 0.2], [0.8, 0.7], [0.1, 0.6]])
        >>> labels = torch.tensor([[1, 0], [0, 1], [1, 1]])
        >>> [round(ap, 4) for ap in average_precision(scores, labels).tolist()]
        [0.8333, 1.0]
    """
    if scores.shape != labels.shape or scores.dim() != 2:
        raise ValueError(
            f"scores and labels must both be (N, K); got {tuple(scores.shape)} and "
            f"{tuple(labels.shape)}"
        )
    order = scores.argsort(dim=0, descending=True)
    hits = labels.gather(0, order).float()
    true_positives = hits.cumsum(dim=0)
    ranks = torch.arange(1, hits.shape[0] + 1, device=hits.device, dtype=torch.float32)
    precision = true_positives / ranks[:, None]
    positives = hits.sum(dim=0)
    ap = (precision * hits).sum(dim=0) / positives.clamp(min=1)
    return torch.where(positives > 0, ap, torch.full_like(ap, float("nan")))


def mean_average_precision(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean of :func:`average_precision` over the classes that have positives.

    Example:
        >>> import torch
        >>> from captum_explainer.metrics import mean_average_precision
        >>> scores = torch.tensor([[0.9, 0.2], [0.8, 0.7], [0.1, 0.6]])
        >>> labels = torch.tensor([[1, 0], [0, 1], [1, 1]])
        >>> round(mean_average_precision(scores, labels), 4)
        0.9167
    """
    return float(average_precision(scores, labels).nanmean())
