"""The paper's transforms for real images: resize to a square side, ImageNet normalisation."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from captum_explainer.data._types import Normalization


def image_to_tensor(image: Image.Image, size: int, normalization: Normalization) -> torch.Tensor:
    """An RGB PIL image resized (bilinear) to ``size x size`` and normalised: ``(3, size, size)``."""
    resized = image.convert("RGB").resize((size, size), Image.BILINEAR)
    array = np.asarray(resized, dtype=np.float32) / 255.0
    return normalization.normalize(torch.from_numpy(array).permute(2, 0, 1).contiguous())


def segmentation_to_tensor(segmentation: np.ndarray, size: int) -> torch.Tensor:
    """A class map resized with nearest neighbour (labels must not blend): ``(size, size)``."""
    resized = Image.fromarray(segmentation.astype(np.uint8)).resize((size, size), Image.NEAREST)
    return torch.from_numpy(np.asarray(resized).astype(np.int64))


def check_image_size(image_size: int) -> int:
    if not isinstance(image_size, int) or image_size < 8:
        raise ValueError(f"image_size must be an integer >= 8, got {image_size!r}")
    return image_size
