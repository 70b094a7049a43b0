"""Batching helpers for datasets whose items may lack a segmentation."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

from captum_explainer.data.types import Item


def collate_items(items: Sequence[Item]) -> tuple[torch.Tensor, torch.Tensor, object]:
    """Stack ``(image, labels, segmentation)`` items into a batch.

    Segmentations are stacked into ``(N, H, W)`` when every item has one of the same size,
    and otherwise returned as a list holding tensors and ``None``.

    Example:
        >>> from captum_explainer import SyntheticScenes
        >>> from captum_explainer.data import collate_items
        >>> images, labels, segmentation = collate_items(list(SyntheticScenes(4, image_size=32)))
        >>> images.shape, labels.shape, segmentation.shape
        (torch.Size([4, 3, 32, 32]), torch.Size([4, 8]), torch.Size([4, 32, 32]))
    """
    if len(items) == 0:
        raise ValueError("cannot collate an empty batch")
    images = torch.stack([item[0] for item in items])
    labels = torch.stack([item[1] for item in items])
    segmentations = [item[2] for item in items]
    if all(s is not None for s in segmentations) and len({s.shape for s in segmentations}) == 1:
        return images, labels, torch.stack(segmentations)
    return images, labels, segmentations


def check_not_empty(dataset: Dataset, name: str = "dataset") -> None:
    """Raise a clear error for an empty dataset instead of a silent zero-step run."""
    if len(dataset) == 0:
        raise ValueError(f"{name} is empty: it holds no images")


def evaluable_indices(dataset: Dataset, limit: int | None = None) -> list[int]:
    """Indices of the items with a segmentation and at least one label, in order.

    The paper evaluates on such images only (VOC-2007 test images that have
    segmentations). Datasets may offer cheap ``has_segmentation(i)`` and ``labels(i)``
    methods (VOC and COCO do) so that no image has to be decoded to decide.
    """
    chosen = []
    for index in range(len(dataset)):
        if limit is not None and len(chosen) >= limit:
            break
        if hasattr(dataset, "has_segmentation") and hasattr(dataset, "labels"):
            ok = dataset.has_segmentation(index) and bool(dataset.labels(index).any())
        else:
            _, labels, segmentation = dataset[index]
            ok = segmentation is not None and bool(labels.any())
        if ok:
            chosen.append(index)
    if not chosen:
        raise ValueError(
            "the dataset has no image with both a segmentation and a label to evaluate"
        )
    return chosen
