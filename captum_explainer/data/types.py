"""Types and constants shared by every dataset of the package."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

#: One item of every dataset: ``(image (C, H, W), multi-hot labels (K,), segmentation)``.
#: The segmentation is a long tensor ``(H, W)`` (0 background, ``k + 1`` class ``k``,
#: 255 boundary/void) or ``None`` where the dataset has none for that image.
Item = tuple[torch.Tensor, torch.Tensor, "torch.Tensor | None"]

#: Label of VOC's "void" pixels (object boundaries, unlabelled regions).
BOUNDARY_LABEL = 255


@dataclass(frozen=True)
class Normalization:
    """A per-channel affine normalisation ``(x - mean) / std`` and its inverse.

    Example:
        >>> import torch
        >>> from captum_explainer.data import Normalization
        >>> normalization = Normalization(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
        >>> images = torch.full((1, 3, 2, 2), 0.75)
        >>> normalization.normalize(images)[0, :, 0, 0].tolist()
        [1.0, 1.0, 1.0]
        >>> normalization.denormalize(normalization.normalize(images)).equal(images)
        True
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def _stats(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        channels = len(self.mean)
        if images.dim() < 3 or images.shape[-3] != channels:
            raise ValueError(
                f"images must be shaped (..., {channels}, H, W), got {tuple(images.shape)}"
            )
        shape = (channels, 1, 1)
        return images.new_tensor(self.mean).view(shape), images.new_tensor(self.std).view(shape)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        mean, std = self._stats(images)
        return (images - mean) / std

    def denormalize(self, images: torch.Tensor) -> torch.Tensor:
        mean, std = self._stats(images)
        return images * std + mean

    def black(self, images: torch.Tensor) -> torch.Tensor:
        """Black (zeros before normalisation) in normalised space, shaped like ``images``."""
        mean, std = self._stats(images)
        return (-mean / std).expand_as(images).clone()


IMAGENET_NORMALIZATION = Normalization(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


@dataclass(frozen=True)
class Scene:
    """One drawn scene: image ``(S, S, 3)`` in [0, 1], the index of the object owning each
    pixel (``-1`` for background) and each object's class."""

    image: np.ndarray
    owner: np.ndarray
    object_classes: list[int]


def owner_segmentation(owner: np.ndarray, object_classes: list[int]) -> np.ndarray:
    """VOC-style class map from the object owning each pixel (``-1`` background).

    0 marks background, ``k + 1`` class ``k`` and 255 the one-pixel band just outside the
    objects, as PASCAL VOC marks its object boundaries.
    """
    lookup = np.array([0] + [c + 1 for c in object_classes], dtype=np.int64)
    segmentation = lookup[owner + 1]
    foreground = owner >= 0
    padded = np.pad(foreground, 1)
    dilated = (
        padded[1:-1, 1:-1]
        | padded[:-2, 1:-1]
        | padded[2:, 1:-1]
        | padded[1:-1, :-2]
        | padded[1:-1, 2:]
    )
    segmentation[dilated & ~foreground] = BOUNDARY_LABEL
    return segmentation
